"""Per-layer statistics of fitted INR weights, beside those published for the standard INR sets.

Every metanetwork paper in this line (DWSNets, NFN, neural-graphs, ScaleGMN, GMN) classifies the
DWSNets INR sets; neural-graphs publishes the per-layer mean and std of their weights and biases
(mkofinas/neural-graphs, experiments/inr_classification/configs/data/{mnist,fmnist}.yaml), which
normalise its inputs. They are the yardstick for INRs fitted here: a GMN trained on INRs with
other statistics learns a different task than the one the paper studies.
"""

import numpy as np

# dataset -> parameter ("W" or "b") -> (per-layer means, per-layer stds), input side first.
PUBLISHED = {
    "mnist": {
        "W": (
            (-4.215954686515033e-05, -7.55547659991862e-07, 7.886120874900371e-05),
            (0.06281130015850067, 0.018268151208758354, 0.11791174858808517),
        ),
        "b": (
            (5.419965418695938e-06, 3.7173406326473923e-06, -0.01239530649036169),
            (0.021334609016776085, 0.011004417203366756, 0.09989194571971893),
        ),
    },
    "fashion_mnist": {
        "W": (
            (6.370305982272839e-06, 6.88720547259436e-06, 1.0729863788583316e-05),
            (0.07822809368371964, 0.03240188956260681, 0.13454964756965637),
        ),
        "b": (
            (1.6790845336345228e-07, -1.1566662578843534e-05, -0.020282816141843796),
            (0.028561526909470558, 0.016700252890586853, 0.09595609456300735),
        ),
    },
}


def layer_statistics(weights: list[tuple[np.ndarray, np.ndarray]], dataset: str) -> list[dict]:
    """One row per layer and parameter: mean and std over all INRs (float64), and where published
    for `dataset`, the standard set's mean and std and the ratio of the stds (ours / theirs)."""
    published = PUBLISHED.get(dataset)
    rows = []
    for layer, pair in enumerate(weights):
        for name, values in zip("Wb", pair):
            values = np.asarray(values, dtype=np.float64)
            row = {"layer": layer, "param": name, "mean": float(values.mean()), "std": float(values.std())}
            if published:
                means, stds = published[name]
                row.update(published_mean=means[layer], published_std=stds[layer])
                row["std_ratio"] = row["std"] / stds[layer]
            rows.append(row)
    return rows
