"""Regression on scikit-learn's bundled diabetes table, written the PyTorch way."""
import argparse

import numpy as np
from sklearn.datasets import load_diabetes

import ember as torch
import ember.nn as nn
from ember.utils.data import DataLoader, TensorDataset


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)

    x, y = load_diabetes(return_X_y=True)
    order = np.random.default_rng(args.seed).permutation(len(y))
    test, train = order[:88], order[88:]
    mean, std = x[train].mean(0), x[train].std(0)
    x = ((x - mean) / std).astype(np.float32)
    y_mean, y_std = y[train].mean(), y[train].std()
    y = ((y - y_mean) / y_std).astype(np.float32)[:, None]
    train_ds = TensorDataset(torch.from_numpy(x[train]), torch.from_numpy(y[train]))
    loader = DataLoader(train_ds, batch_size=32, shuffle=True)
    x_test, y_test = torch.from_numpy(x[test]), torch.from_numpy(y[test])

    model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 32),
                          nn.ReLU(), nn.Linear(32, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=10)
    loss_fn = nn.MSELoss()
    for epoch in range(args.epochs):
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            test_loss = loss_fn(model(x_test), y_test).item()
        sched.step(test_loss)
        if epoch % 25 == 0 or epoch == args.epochs - 1:
            print(f"epoch {epoch:>3}  test MSE (standardised) {test_loss:.3f}  "
                  f"lr {opt.param_groups[0]['lr']:.1e}")
    with torch.no_grad():
        pred = model(x_test)
    r2 = 1 - ((pred - y_test) ** 2).sum().item() / ((y_test - y_test.mean()) ** 2).sum().item()
    print(f"held-out R^2: {r2:.3f}")
    return r2


if __name__ == "__main__":
    main()
