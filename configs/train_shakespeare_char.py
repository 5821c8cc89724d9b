# A character-level GPT on Tiny Shakespeare, with nanoGPT's recipe (its
# config/train_shakespeare_char.py reads the same way here):
#
#   build/bin/train_gpt configs/train_shakespeare_char.py
#
# The data is data/shakespeare_char/ under the working directory: nanoGPT's prepared folder
# (train.bin, val.bin, meta.pkl), or just the text as data/shakespeare_char/input.txt.
# Any key can be overridden on the command line: --max_iters=2000 --device=cpu.

out_dir = 'out-shakespeare-char'
eval_interval = 250  # a small model overfits quickly: look often
eval_iters = 200
log_interval = 10

# only keep checkpoints that improve the val loss
always_save_checkpoint = False

wandb_log = False
wandb_project = 'shakespeare-char'
wandb_run_name = 'mini-gpt'

dataset = 'shakespeare_char'
gradient_accumulation_steps = 1
batch_size = 64
block_size = 256  # characters of context

# a 10.7M-parameter GPT
n_layer = 6
n_head = 6
n_embd = 384
dropout = 0.2

learning_rate = 1e-3  # small models take a larger step
max_iters = 5000
lr_decay_iters = 5000  # usually max_iters
min_lr = 1e-4  # usually learning_rate / 10
beta2 = 0.99  # few tokens per iteration: average the second moment longer

warmup_iters = 100

# on a CPU: --device=cpu (ZeroShard runs eagerly; there is no compile step to turn off)
# on a GPU: --cuda_graph=True replays each step's forward and backward as CUDA graphs (faster)
