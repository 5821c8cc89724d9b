# A small GPT that learns within a minute on a laptop's CPU (the README's demo):
#
#   build/bin/zsrun --num_procs 2 build/bin/train_gpt configs/demo_cpu.py --deepspeed_config=configs/demo_zero2.json
#
# No dataset is named, so the run trains on generated English-like text (nothing to download);
# add --dataset=shakespeare_char (data/shakespeare_char/) or --data=some.txt for real text.

device = 'cpu'

# 0.8M parameters, character level
n_layer = 4
n_head = 4
n_embd = 128
block_size = 64
dropout = 0.0
batch_size = 16

max_iters = 300
eval_interval = 100
eval_iters = 10
log_interval = 25

learning_rate = 3e-3
min_lr = 3e-4
warmup_iters = 20
lr_decay_iters = 300
