"""HF transformers reference for `bertlab finetune ner` (issue: fine-tuning and evaluation).

Fine-tunes a token-classification model on CoNLL column files with the standard transformers
recipe (Trainer, first-subword labels, -100 elsewhere, AdamW, linear warmup/decay) and scores
dev/test with seqeval (entity level, conlleval mode) -- the measures bertlab reports.

  python finetune_ner.py --model DIR --data ../shared/data/conll2003 --out OUT \
      [--epochs 3] [--batch-size 32] [--lr 5e-5] [--max-seq-len 128] [--warmup 0.1] [--seed 0] \
      [--padding dynamic|max_length] [--max-steps N] [--no-eval]

--padding max_length is the comparison article's recipe (every example padded to 128);
dynamic pads each batch to its longest example (DataCollatorForTokenClassification).
Writes OUT/hf_metrics.json with F1 figures, seconds per step and tokens/s (real tokens).
"""
import argparse
import dataclasses
import json
import os
import time

import numpy as np
import torch
import transformers
from seqeval.metrics import classification_report, f1_score


def read_conll(path):
    sentences, words, tags = [], [], []
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("-DOCSTART-"):
            if words:
                sentences.append((words, tags))
                words, tags = [], []
            continue
        cols = line.split()
        words.append(cols[0])
        tags.append(cols[-1])
    if words:
        sentences.append((words, tags))
    return sentences


def iob1_to_iob2(tags):
    out = []
    for i, t in enumerate(tags):
        if t.startswith("I-") and (i == 0 or tags[i - 1] == "O" or tags[i - 1][2:] != t[2:]):
            out.append("B-" + t[2:])
        else:
            out.append(t)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--max-seq-len", type=int, default=128)
    p.add_argument("--warmup", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--padding", choices=["dynamic", "max_length"], default="dynamic")
    p.add_argument("--max-steps", type=int, default=-1)
    p.add_argument("--no-eval", action="store_true")
    args = p.parse_args()
    transformers.set_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)

    splits = {s: read_conll(os.path.join(args.data, f"{s}.txt")) for s in ["train", "dev", "test"]}
    splits = {s: [(w, iob1_to_iob2(t)) for w, t in v] for s, v in splits.items()}
    labels = sorted({t for _, tags in splits["train"] for t in tags}, key=lambda t: (t != "O", t))
    label2id = {l: i for i, l in enumerate(labels)}

    tok = transformers.AutoTokenizer.from_pretrained(args.model)
    # The checkpoint's tokenizer.json may switch padding/truncation on; the recipe sets them.
    tok._tokenizer.no_padding()
    tok._tokenizer.no_truncation()

    def encode(data):
        enc = tok([w for w, _ in data], is_split_into_words=True, truncation=True,
                  max_length=args.max_seq_len,
                  padding="max_length" if args.padding == "max_length" else False)
        rows = []
        for i, (_, tags) in enumerate(data):
            wids = enc.word_ids(i)
            prev, lab = None, []
            for w in wids:
                lab.append(-100 if w is None or w == prev else label2id[tags[w]])
                prev = w
            row = {k: enc[k][i] for k in enc.keys()}
            row["labels"] = lab
            rows.append(row)
        return rows

    train = encode(splits["train"])
    model = transformers.AutoModelForTokenClassification.from_pretrained(
        args.model, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id)
    collator = transformers.DataCollatorForTokenClassification(tok)
    # transformers 5 takes the warmup fraction as a float `warmup_steps`; 4.x as `warmup_ratio`.
    fields = {f.name for f in dataclasses.fields(transformers.TrainingArguments)}
    warmup = {"warmup_ratio": args.warmup} if "warmup_ratio" in fields else {"warmup_steps": args.warmup}
    targs = transformers.TrainingArguments(
        output_dir=os.path.join(args.out, "hf_trainer"), per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=64, learning_rate=args.lr, num_train_epochs=args.epochs,
        max_steps=args.max_steps, **warmup, weight_decay=0.01, lr_scheduler_type="linear",
        max_grad_norm=1.0, seed=args.seed, logging_steps=50, save_strategy="no", report_to=[],
        use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0, disable_tqdm=True)
    trainer = transformers.Trainer(model=model, args=targs, train_dataset=train, data_collator=collator)
    start = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - start
    steps = result.global_step
    real_tokens = sum(sum(1 for x in r["attention_mask"] if x) for r in train)
    epochs_done = steps * args.batch_size / len(train)
    metrics = {
        "padding": args.padding, "steps": steps, "train_seconds": seconds, "seconds_per_step": seconds / steps,
        "train_examples": len(train), "steps_per_epoch": int(np.ceil(len(train) / args.batch_size)),
        "seconds_per_epoch": seconds / steps * np.ceil(len(train) / args.batch_size),
        "real_tokens_per_s": real_tokens * epochs_done / seconds, "torch_threads": torch.get_num_threads(),
        "transformers": transformers.__version__, "torch": torch.__version__,
    }
    if not args.no_eval:
        model.eval()
        for split in ["dev", "test"]:
            data = splits[split]
            enc_rows = encode(data)
            preds = []
            with torch.no_grad():
                for i in range(0, len(enc_rows), 64):
                    batch = collator([{k: v for k, v in r.items() if k != "labels"} for r in enc_rows[i:i + 64]])
                    logits = model(**batch).logits.argmax(-1)
                    for j, r in enumerate(enc_rows[i:i + 64]):
                        wids = tok([data[i + j][0]], is_split_into_words=True, truncation=True,
                                   max_length=args.max_seq_len).word_ids(0)
                        tags, prev = ["O"] * len(data[i + j][0]), None
                        for pos, w in enumerate(wids):
                            if w is not None and w != prev:
                                tags[w] = labels[logits[j, pos].item()]
                            prev = w
                        preds.append(tags)
            gold = [t for _, t in data]
            metrics[f"{split}_entity_f1"] = f1_score(gold, preds)
            metrics[f"{split}_report"] = classification_report(gold, preds, digits=4)
    with open(os.path.join(args.out, "hf_metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    print(json.dumps({k: v for k, v in metrics.items() if not k.endswith("_report")}, indent=1))


if __name__ == "__main__":
    main()
