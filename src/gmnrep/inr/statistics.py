"""Per-layer statistics of INR weights, beside those published for the standard INR sets.

Every metanetwork paper in this line (DWSNets, NFN, neural-graphs, ScaleGMN, GMN) classifies the
standard INR sets (gmnrep.inr.standard_sets); neural-graphs publishes the per-layer mean and std
of their weights and biases (mkofinas/neural-graphs, experiments/inr_classification/configs/data/
{mnist,fmnist}.yaml and experiments/style_editing/configs/data/nfn_{mnist,cifar}.yaml), which
normalise its inputs. They are the yardstick for INRs fitted here (a GMN trained on INRs with
other statistics learns a different task than the one the paper studies), and the check of an
imported set: a complete copy of a set matches its published statistics to about 3 digits.
"""

import numpy as np

# standard set (config inr.standard_sets) -> parameter ("W" or "b") -> (per-layer means, per-layer
# stds), input side first.
PUBLISHED = {
    "dwsnets_mnist": {
        "W": (
            (-4.215954686515033e-05, -7.55547659991862e-07, 7.886120874900371e-05),
            (0.06281130015850067, 0.018268151208758354, 0.11791174858808517),
        ),
        "b": (
            (5.419965418695938e-06, 3.7173406326473923e-06, -0.01239530649036169),
            (0.021334609016776085, 0.011004417203366756, 0.09989194571971893),
        ),
    },
    "ng_fashion_mnist": {
        "W": (
            (6.370305982272839e-06, 6.88720547259436e-06, 1.0729863788583316e-05),
            (0.07822809368371964, 0.03240188956260681, 0.13454964756965637),
        ),
        "b": (
            (1.6790845336345228e-07, -1.1566662578843534e-05, -0.020282816141843796),
            (0.028561526909470558, 0.016700252890586853, 0.09595609456300735),
        ),
    },
    "nfn_mnist": {
        "W": (
            (0.00012268121645320207, -8.858834803504578e-07, 2.4448696422041394e-05),
            (0.2868247926235199, 0.017109761014580727, 0.06391365826129913),
        ),
        "b": (
            (0.0006445261533372104, -3.312843546154909e-05, -0.03267413377761841),
            (0.40904879570007324, 0.10408575087785721, 0.09695733338594437),
        ),
    },
    "nfn_cifar10": {
        "W": (
            (0.00018394182552583516, -2.5748543066583807e-06, -4.988231376046315e-05),
            (0.2802596390247345, 0.017659902572631836, 0.05460081994533539),
        ),
        "b": (
            (0.0005445665447041392, -2.380055775574874e-06, -0.0024678376503288746),
            (0.40869608521461487, 0.10388434678316116, 0.08734994381666183),
        ),
    },
}


def layer_statistics(weights: list[tuple[np.ndarray, np.ndarray]], reference_set: str | None) -> list[dict]:
    """One row per layer and parameter: mean and std over all INRs (float64), and where published
    for the standard set `reference_set`, its mean and std and the ratio of the stds (ours / theirs)."""
    published = PUBLISHED.get(reference_set)
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
