"""Which layer of each network a compared layer is, when the networks differ in depth.

Every network exposes representation layers 1..L: its hidden blocks, then its penultimate layer.
The layers a run compares (config cka.figure_layers: the claims' CKA(l, l), the figures' rows) are
numbered as in the run's deepest architectures, `deepest` layers; a network with fewer layers is
aligned at the top, its penultimate layer with theirs, its last hidden block with their last, and so
on down. A 3-layer ScaleGMN (two message-passing layers) beside 5-layer GMNs, MLPs and CNNs: layer
4 is its second message-passing layer and layer 3 its first. When every network is equally deep,
layer l is each one's layer l.
"""


def own_layer(layer: int, depth: int, deepest: int | None) -> int:
    """Layer `layer` of the run's numbering as a layer of a network with `depth` layers, the run's
    deepest having `deepest` (None: each network numbers its own); ValueError if it has none."""
    own = layer if deepest is None else layer - (deepest - depth)
    if not 1 <= own <= depth:
        numbering = "its own numbering" if deepest is None else f"the numbering of {deepest}-layer networks"
        raise ValueError(f"layer {layer} ({numbering}) is none of the layers 1..{depth} of a {depth}-layer network")
    return own
