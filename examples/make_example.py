"""Writes the small example data set used by the README's `driftgauge check` command.

Standard library only, fixed seed: `python3 examples/make_example.py` rewrites
`examples/reference.csv` and `examples/current.csv` byte for byte. The current
file drifts: `income` shifts up, `channel` moves towards "web", and the model's
`score` rises for one `region`, so the fairness slice shows a gap.
"""

import csv
import math
import pathlib
import random

HERE = pathlib.Path(__file__).parent


def rows(n: int, drift: bool, rng: random.Random):
    for _ in range(n):
        region = rng.choice(["north", "south", "east", "west"])
        age = max(18, min(90, round(rng.gauss(42, 12))))
        income = rng.lognormvariate(10.5 + (0.25 if drift else 0.0), 0.5)
        tenure = round(rng.expovariate(1 / 4.0), 2)
        weights = [0.2, 0.5, 0.3] if not drift else [0.45, 0.35, 0.2]
        channel = rng.choices(["web", "store", "phone"], weights)[0]
        logit = -1.0 + 0.03 * (age - 42) + 0.4 * math.log(income / 36000)
        if drift and region == "south":
            logit += 1.2
        score = 1 / (1 + math.exp(-logit - rng.gauss(0, 0.5)))
        label = int(rng.random() < 1 / (1 + math.exp(-logit)))
        yield {
            "age": age,
            "income": round(income, 2),
            "tenure_years": tenure,
            "channel": channel,
            "region": region,
            "score": round(score, 4),
            "label": label,
        }


def write(path: pathlib.Path, n: int, drift: bool, seed: int) -> None:
    rng = random.Random(seed)
    data = list(rows(n, drift, rng))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(data[0]))
        writer.writeheader()
        writer.writerows(data)


if __name__ == "__main__":
    write(HERE / "reference.csv", 5000, False, 1)
    write(HERE / "current.csv", 3000, True, 2)
