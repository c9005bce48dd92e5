"""ember's main job, end to end: train a small CNN on scikit-learn's bundled
8x8 handwritten digits, written exactly as a PyTorch user would write it.

    python -m ember.examples.digits [--epochs N] [--batch-size B] [--lr LR]
                                    [--device cpu|cuda] [--out DIR] [--seed S]

Trains with DataLoader + Adam + a OneCycle schedule and a live progress bar,
evaluates on a held-out split (per-class accuracy and confusion matrix),
saves a checkpoint with ``ember.save`` and reloads it to verify, and writes
``training.png`` (loss/accuracy curves and a grid of misclassified digits).
Needs the ``demo`` extra (scikit-learn, matplotlib, tqdm): ``pip install ember[demo]``.
"""
import argparse
import os
import time

import numpy as np

import ember as torch
import ember.nn as nn
import ember.nn.functional as F
from ember.utils.data import DataLoader, TensorDataset


class DigitsCNN(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.dropout = nn.Dropout(0.25)
        self.fc1 = nn.Linear(32 * 2 * 2, 64)
        self.fc2 = nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)   # 16 x 4 x 4
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)   # 32 x 2 x 2
        x = self.dropout(torch.flatten(x, 1))
        return self.fc2(F.relu(self.fc1(x)))


def load_digits_split(seed, test_fraction=0.2):
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit("this example needs scikit-learn: pip install 'ember[demo]'") from None
    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)[:, None]        # N x 1 x 8 x 8 in [0, 1]
    y = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(len(y) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return (torch.from_numpy(x[train]), torch.from_numpy(y[train]),
            torch.from_numpy(x[test]), torch.from_numpy(y[test]))


def evaluate(model, loader, device):
    model.eval()
    preds, targets, total_loss = [], [], 0.0
    with torch.no_grad():
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            out = model(xb)
            total_loss += F.cross_entropy(out, yb, reduction="sum").item()
            preds.append(out.argmax(1).cpu())
            targets.append(yb.cpu())
    preds, targets = torch.cat(preds), torch.cat(targets)
    return total_loss / len(targets), preds, targets


def confusion_matrix(preds, targets, n=10):
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (targets.numpy(), preds.numpy()), 1)
    return cm


def print_report(cm):
    print("\nper-class accuracy")
    print("  digit  correct/total  accuracy")
    for d in range(cm.shape[0]):
        total = cm[d].sum()
        print(f"  {d:>5}  {cm[d, d]:>7}/{total:<5}  {cm[d, d] / max(total, 1):8.1%}")
    print("\nconfusion matrix (rows: true digit, columns: predicted)")
    print("      " + " ".join(f"{d:>3}" for d in range(cm.shape[1])))
    for d in range(cm.shape[0]):
        print(f"  {d:>3} " + " ".join(f"{v:>3}" for v in cm[d]))


def _progress(total, desc):
    try:
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, unit="sample", leave=True, dynamic_ncols=True)
    except ImportError:
        return None


def plot(history, x_test, preds, targets, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: skipping the plot (pip install 'ember[demo]')")
        return None
    wrong = np.nonzero((preds != targets).numpy())[0][:16]
    fig = plt.figure(figsize=(12, 4.2), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[2.1, 1])
    ax1, ax2 = left.subplots(1, 2)
    ep = np.arange(1, len(history["train_loss"]) + 1)
    for ax, key, scale, label in ((ax1, "loss", 1, "cross-entropy loss"),
                                  (ax2, "acc", 100, "accuracy (%)")):
        ax.plot(ep, np.array(history[f"train_{key}"]) * scale, "o-", label="train")
        ax.plot(ep, np.array(history[f"test_{key}"]) * scale, "o-", label="test")
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(label)
        ax.set_title(label.split(" (")[0])
        ax.grid(alpha=0.3)
        ax.legend()
    right.suptitle(f"misclassified: true→predicted ({len(wrong)} shown)", fontsize=11)
    for i, ax in enumerate(right.subplots(4, 4).ravel()):
        ax.axis("off")
        if i < len(wrong):
            k = wrong[i]
            ax.imshow(x_test[k, 0].numpy(), cmap="gray_r")
            ax.set_title(f"{targets[k].item()}→{preds[k].item()}", fontsize=9)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m ember.examples.digits",
                                description="Train a CNN on scikit-learn's 8x8 digits with ember.")
    p.add_argument("--epochs", type=int, default=8, help="training epochs (default 8)")
    p.add_argument("--batch-size", type=int, default=64, help="mini-batch size (default 64)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default 3e-3)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--out", default="out/digits", help="output directory (default out/digits)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error(f"--epochs must be at least 1 (got {args.epochs})")
    if args.batch_size < 1:
        p.error(f"--batch-size must be at least 1 (got {args.batch_size})")
    if not args.lr > 0:
        p.error(f"--lr must be positive (got {args.lr})")
    try:
        os.makedirs(args.out, exist_ok=True)
        probe = os.path.join(args.out, ".write-test")
        open(probe, "w").close()
        os.remove(probe)
    except OSError as e:
        p.error(f"--out {args.out!r} is not a writable directory ({e.strerror})")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        p.error("--device cuda was asked for but CUDA is not available on this machine")

    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    x_train, y_train, x_test, y_test = load_digits_split(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size,
                              shuffle=True, generator=g)
    test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=256)
    print(f"digits: {len(y_train)} training and {len(y_test)} test images of 8x8 pixels")

    model = DigitsCNN().to(device)
    print(model)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{n_params} parameters\n")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=len(train_loader))

    history = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        seen, correct, loss_sum, t0 = 0, 0, 0.0, time.perf_counter()
        bar = _progress(len(y_train), f"epoch {epoch:>2}/{args.epochs}")
        for xb, yb in train_loader:
            xb, yb = xb.to(device), yb.to(device)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            seen += len(yb)
            loss_sum += loss.item() * len(yb)
            correct += (out.argmax(1) == yb).sum().item()
            if bar is not None:
                bar.update(len(yb))
                bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.1%}",
                                rate=f"{seen / (time.perf_counter() - t0):.0f}/s")
        if bar is not None:
            bar.close()
        test_loss, preds, targets = evaluate(model, test_loader, device)
        test_acc = (preds == targets).float().mean().item()
        history["train_loss"].append(loss_sum / seen)
        history["train_acc"].append(correct / seen)
        history["test_loss"].append(test_loss)
        history["test_acc"].append(test_acc)
        if bar is None:
            print(f"epoch {epoch:>2}: train loss {loss_sum / seen:.3f} acc {correct / seen:.1%}"
                  f" | test loss {test_loss:.3f} acc {test_acc:.1%}")
        else:
            print(f"           test loss {test_loss:.3f}  test accuracy {test_acc:.1%}")
    elapsed = time.perf_counter() - start
    print(f"\ntrained {args.epochs} epochs in {elapsed:.1f} s "
          f"({args.epochs * len(y_train) / elapsed:.0f} samples/s)")

    cm = confusion_matrix(preds, targets)
    print_report(cm)
    print(f"\ntest accuracy: {np.trace(cm) / cm.sum():.2%}")

    ckpt = os.path.join(args.out, "digits_cnn.pt")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "epoch": args.epochs, "history": history}, ckpt)
    restored = DigitsCNN().to(device)
    restored.load_state_dict(torch.load(ckpt)["model"])
    _, preds2, _ = evaluate(restored, test_loader, device)
    same = bool((preds2 == preds).all())
    print(f"checkpoint saved to {ckpt} and reloaded: predictions identical = {same}")
    if not same:
        raise SystemExit("reloaded model disagrees with the trained one")
    png = plot(history, x_test, preds, targets, os.path.join(args.out, "training.png"))
    if png:
        print(f"training curves and misclassified digits: {png}")
    return history


if __name__ == "__main__":
    main()
