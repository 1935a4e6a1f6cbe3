"""HF transformers reference for `bertlab pretrain` throughput (`cargo xtask bench pretrain`).

Builds BertForPreTraining or AlbertForPreTraining from a config.json (the one bertlab wrote for
the same preset, so both sides train the same architecture), then times full training steps
-- forward with MLM + NSP/SOP losses, backward, gradient clipping, AdamW -- in PyTorch eager
mode on random token batches with 15% of positions masked, and prints one JSON line with
real tokens per second and the process's peak resident memory.

  python pretrain.py --config DIR_WITH_CONFIG_JSON --batch-size 32 --seq-len 128 --steps 10 [--warmup 2]
"""
import argparse
import json
import resource
import time

import torch
import transformers


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = transformers.AutoConfig.from_pretrained(args.config)
    cls = transformers.BertForPreTraining if cfg.model_type == "bert" else transformers.AlbertForPreTraining
    model = cls(cfg).to(device).train()
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr)
    b, t, v = args.batch_size, args.seq_len, cfg.vocab_size
    pair_key = "next_sentence_label" if cfg.model_type == "bert" else "sentence_order_label"

    def step():
        ids = torch.randint(5, v, (b, t), device=device)
        labels = torch.full_like(ids, -100)
        masked = torch.rand(b, t, device=device) < 0.15
        labels[masked] = ids[masked]
        ids = ids.masked_fill(masked, 4)
        types = torch.zeros_like(ids)
        types[:, t // 2:] = 1
        out = model(input_ids=ids, token_type_ids=types, labels=labels,
                    **{pair_key: torch.randint(0, 2, (b,), device=device)})
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return out.loss.item()

    for _ in range(args.warmup):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    print(json.dumps({
        "model_type": cfg.model_type, "device": device, "steps": args.steps, "seconds": seconds,
        "tokens_per_second": b * t * args.steps / seconds, "loss": loss,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "peak_cuda_bytes": torch.cuda.max_memory_allocated() if device == "cuda" else None,
        "parameters": sum(p.numel() for p in model.parameters()), "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "transformers": transformers.__version__,
    }))


if __name__ == "__main__":
    main()
