#!/usr/bin/env python3
"""The same GGUF model in PyTorch/transformers on the GPU, for comparison
with bench_cuda: prefill tokens/s at 512, time to first token for a
10-token prompt, greedy decode tokens/s with eager generate() for batch 1
and batch B, and batch 1 with a static cache plus torch.compile when that
works. Builds the model with ../shared/tools/hf_reference.py (float32
weights from the GGUF), then casts it to --dtype. Prints one line per
figure. A benchmark: run it on the GPU machine.

usage: hf_side_by_side.py MODEL.gguf [--dtype float16] [--steps 128]
                          [--batch 32] [--compile] [--shared DIR]
"""
import argparse
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--dtype", default="float16")
    ap.add_argument("--steps", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--skip-eager", action="store_true", help="only the static cache + torch.compile run")
    ap.add_argument("--shared", default=os.environ.get("ORC_SHARED", "../shared"))
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.shared, "tools"))
    import torch
    import hf_reference

    torch.backends.cuda.matmul.allow_tf32 = False
    t0 = time.time()
    _, arch, model = hf_reference.build(a.model)
    model = model.to(dtype=getattr(torch, a.dtype)).cuda().eval()
    print("torch %s, transformers model %s in %s on %s, built in %.1f s" %
          (torch.__version__, arch, a.dtype, torch.cuda.get_device_name(), time.time() - t0), flush=True)
    V = model.config.vocab_size
    g = torch.Generator().manual_seed(7)
    ids = torch.randint(0, V, (1, 512), generator=g).cuda()

    with torch.no_grad():
        if not a.skip_eager:
            eager(a, model, ids, g, V)
        if a.compile or a.skip_eager:
            compiled(a, model, ids)


def sync_time(fn, reps):
    import torch
    ts = []
    for _ in range(reps):
        torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2]


def gen(model, x, n, **kw):
    return model.generate(x, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0, **kw)


def eager(a, model, ids, g, V):
    import torch
    model(ids)
    t = sync_time(lambda: model(ids), 5)
    print("hf prefill 512      %.0f tokens/s (%.2f ms)" % (512 / t, t * 1e3), flush=True)
    t = sync_time(lambda: model(ids[:, :10]), 11)
    print("hf forward 10       %.2f ms (TTFT without sampling)" % (t * 1e3), flush=True)
    p16 = ids[:, :16]
    gen(model, p16, 4)
    t1 = sync_time(lambda: gen(model, p16, 1), 3)
    tn = sync_time(lambda: gen(model, p16, a.steps + 1), 1)
    print("hf eager decode b1  %.1f tokens/s" % (a.steps / (tn - t1)), flush=True)
    pb = torch.randint(0, V, (a.batch, 16), generator=g).cuda()
    t1 = sync_time(lambda: gen(model, pb, 1), 3)
    tn = sync_time(lambda: gen(model, pb, a.steps + 1), 1)
    print("hf eager decode b%d %.1f tokens/s aggregate" % (a.batch, a.batch * a.steps / (tn - t1)), flush=True)


def compiled(a, model, ids):
    import torch
    p16 = ids[:, :16]
    try:
        model.forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)
        kw = {"cache_implementation": "static"}
        t = time.time()
        gen(model, p16, a.steps + 1, **kw)
        gen(model, p16, a.steps + 1, **kw)
        print("hf compile warm-up  %.1f s" % (time.time() - t), flush=True)
        t1 = sync_time(lambda: gen(model, p16, 1, **kw), 3)
        tn = sync_time(lambda: gen(model, p16, a.steps + 1, **kw), 1)
        print("hf static+compile decode b1 %.1f tokens/s" % (a.steps / (tn - t1)), flush=True)
    except Exception as e:  # report and go on: a side-by-side figure only
        print("hf static+compile failed: %s" % str(e).splitlines()[0][:200], flush=True)


if __name__ == "__main__":
    main()
