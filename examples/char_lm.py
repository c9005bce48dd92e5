"""A character-level LSTM language model on a small text shipped in the repo."""
import argparse
import os

import ember as torch
import ember.nn as nn
import ember.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


class CharLM(nn.Module):
    def __init__(self, vocab, emb=32, hidden=128):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seq-len", type=int, default=48)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--text", default=os.path.join(HERE, "data", "ember_story.txt"))
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)

    text = open(args.text, encoding="utf-8").read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    model = CharLM(len(chars))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(args.seed)
    losses = []
    for step in range(args.steps):
        starts = torch.randint(0, len(data) - args.seq_len - 1, (args.batch_size,), generator=g)
        x = torch.stack([data[s:s + args.seq_len] for s in starts.tolist()])
        y = torch.stack([data[s + 1:s + 1 + args.seq_len] for s in starts.tolist()])
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:>4}  loss {loss.item():.3f}")

    model.eval()
    with torch.no_grad():
        idx = torch.tensor([[stoi[text[0]]]])
        state, out = None, [text[0]]
        for _ in range(200):
            logits, state = model(idx, state)
            probs = F.softmax(logits[0, -1] / 0.8, dim=-1)
            idx = torch.multinomial(probs, 1, generator=g).view(1, 1)
            out.append(chars[idx.item()])
    print("\nsample:\n" + "".join(out))
    return losses


if __name__ == "__main__":
    main()
