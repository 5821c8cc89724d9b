# Probe: can an Adam step (memory-bound) overlap a forward's GEMMs (compute-bound) on an H200, on two
# streams, with and without an SM carve-out for cuBLAS? Prints ms for each arrangement.
import torch, time
dev = 'cuda'
torch.manual_seed(0)
M, D = 8192, 1600
x = torch.randn(M, D, device=dev, dtype=torch.bfloat16)
h = torch.randn(M, 4 * D, device=dev, dtype=torch.bfloat16)
w = {n: torch.randn(s, device=dev, dtype=torch.bfloat16) for n, s in
     [('attn', (3 * D, D)), ('proj', (D, D)), ('fc', (4 * D, D)), ('mproj', (D, 4 * D))]}
def forward(layers):
    for _ in range(layers):
        torch.nn.functional.linear(x, w['attn']); torch.nn.functional.linear(x, w['proj'])
        torch.nn.functional.linear(x, w['fc']); torch.nn.functional.linear(h, w['mproj'])
P = [torch.randn(30_720_000, device=dev) for _ in range(16)]  # 16 units' masters (~1/3 of 1.5B)
G = [torch.randn_like(p).bfloat16().float() for p in P]
Mo = [torch.zeros_like(p) for p in P]; V = [torch.zeros_like(p) for p in P]
S = [torch.tensor(1.0, device=dev) for _ in P]
def adam():
    torch._fused_adamw_(P, G, Mo, V, [], S, lr=1e-4, beta1=0.9, beta2=0.999, weight_decay=0.1, eps=1e-8,
                        amsgrad=False, maximize=False)
side = torch.cuda.Stream()
def timed(fn, reps=5):
    fn(); torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps): fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / reps * 1e3
def both():
    ev = torch.cuda.Event(); ev.record()
    with torch.cuda.stream(side):
        side.wait_event(ev); adam()
    forward(16)
    torch.cuda.current_stream().wait_stream(side)
L = 16
for carve in [None, 8, 16, 32, 48, 66]:
    torch._C._set_sm_carveout_experimental(carve)
    f = timed(lambda: forward(L)); a = timed(adam); s = timed(lambda: (adam(), forward(L))); c = timed(both)
    print(f"carveout {str(carve):>4}: forward {f:7.2f}  adam {a:6.2f}  serial {s:7.2f}  overlapped {c:7.2f} ms", flush=True)
torch._C._set_sm_carveout_experimental(None)
