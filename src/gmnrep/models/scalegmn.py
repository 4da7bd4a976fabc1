"""ScaleGMN (Kalogeropoulos et al., NeurIPS 2024) for sine INRs: a graph metanetwork over SIREN
parameter graphs invariant to hidden-neuron permutations and to the sign symmetry of sine layers.

The symmetry. sin is odd, so negating a hidden neuron's incoming weights and bias and its outgoing
weights leaves the SIREN's function unchanged. With q_i in {+1, -1} per neuron (q = 1 for input and
output neurons, which have no such symmetry), the parameter graph maps as
    b_i -> q_i b_i (node i),   W_ji -> q_j q_i W_ji (edge i -> j),
and hidden neurons of a layer may also be permuted. Every node feature h_i below is kept
sign-equivariant (h_i -> q_i h_i, vector-wise) and every edge feature e_ji as e_ji -> q_j q_i e_ji;
the readout turns them into invariants.

Building blocks, with σ the SiLU, LN a LayerNorm and MLP(x) = L2 Dropout σ LN L1 x (one hidden
layer of width `mlp_hidden`, as the reference's `mlp` with `d_k: [d_hid]`, `layer_norm: True`):
    sym(x) = ρ(x) + ρ(-x)                  sign-invariant (ρ an MLP: sym(-x) = sym(x))
    eq(x)  = W x ⊙ φ(sym(x))               sign-equivariant (W bias-free: eq(-x) = -eq(x))
ρ's first linear map is applied once and shared by x and -x (the same function, a quarter of ρ's
work saved). LayerNorm appears only inside these MLPs, where it is applied to an invariant (φ), or
symmetrised (ρ), or to an input/output node (no symmetry), so it cannot break the symmetry; there
is none on the equivariant features themselves (a LayerNorm without bias is odd, LN(-x) = -LN(x),
but its learnt bias is not: LN(-x) + β != -(LN(x) + β)).

Inputs: each layer pair's weights and biases divided by their root mean square over the training
set (`set_input_scale`; a positive factor per layer keeps both symmetries, where the GMN's
standardisation, which subtracts a mean, would break the sign symmetry; the reference feeds raw
values, which in 30 CPU epochs barely moved the features). With P_b, P_w bias-free
Linear(1, hidden) maps and learned type vectors t (randn-initialised):
    input neuron i:        h_i = P_b(1) + t_i              (its own type; the constant 1 as bias)
    hidden neuron of l:    h_i = P_b(b_i) ⊙ t_l            (one type per hidden layer: multiplied,
                                                             so -b gives -h)
    output neuron o:       h_o = P_b(b_o) + t_o            (its own type)
    edge i -> j of pair l: e_ji = P_w(W_ji) ⊙ s,  s = s_i (its own type per input neuron i) in the
                           first pair, s_o per output neuron o in the last pair, s_l per hidden pair.

Layer k = 1..`layers` (forward variant), on an edge i -> j (i in layer l, j in layer l + 1):
    z_ji   = A e_ji ⊙ B h_i                  (A, B bias-free; z_ji -> q_j z_ji: q_i² = 1)
    m_j    = Σ_i M(z_ji),   M = eq_msg for a hidden receiver j, MLP_msg_out for an output neuron
    h_j'   = S h_j + U([h_j, m_j]),   U = eq_upd (hidden), MLP_upd_in (input; m = 0), MLP_upd_out
    e_ji'  = C e_ji ⊙ ψ([sym_e(h_i), sym_e(h_j)])            (not in the last layer)
with S the bias-free skip map and a dropout (`block_dropout`) on h' after the skip sum. The
edge update reads the layer's input nodes h. Bidirectional (ScaleGMN-B) adds backward messages
over the same edges, read from the original (never updated) edge features e⁰:
    z̃_ji  = Ã e⁰_ji ⊙ B̃ h_j,   m̃_i = Σ_j M̃(z̃_ji),  M̃ = eq_msg_bw (hidden i), MLP_msg_bw_in (input i)
    h_i'   = S h_i + U([h_i, m_i, m̃_i])                       (m = 0 for inputs, m̃ = 0 for outputs)
Messages are summed (the reference's `aggregator: add`). In the dense form the edges of layer
pair l are a (batch, n_{l+1}, n_l, hidden) tensor, the gathers are broadcasts and the sums reductions,
and only the branch a receiver needs is computed; ψ's first linear map of the concatenation is
split into a per-node term for each endpoint (computed per node, broadcast per edge).

Readout ("full_graph", PermScaleInvariantReadout):
    r = [ Σ_{hidden i} φ_r(sym_r(h_i)),  h_{in_1}, ..., h_{in_n},  h_{out_1}, ..., h_{out_c} ]
the hidden neurons pooled by a sum of invariants (invariant to permutations and signs), the input
and output neurons concatenated in their fixed order (they have no symmetry). The same readout,
applied after layer l, is representation layer l. A head of `head_layers` hidden layers
(Linear, LayerNorm, SiLU; dropout between) follows; its last hidden layer is representation layer
layers + 1, then dropout and a linear map give the class logits.

Why it is invariant. Permutations: hidden neurons of a layer share every type vector and every
function, and all reductions over them are sums, so the whole network is permutation-equivariant
on hidden nodes and the readout invariant. Signs: by induction every h_i stays q_i-equivariant and
every e_ji q_j q_i-equivariant (products of equivariant features with invariants; bias-free linear
maps; sums of messages to one receiver, all with the receiver's sign), while input/output nodes
(q = 1) only ever see invariants (z_ji to an output j: q_i² = 1), so any function of them is
allowed. Dropout is the identity in eval mode; in training, dropout inside ρ draws different masks
for x and -x, so there the invariance holds in distribution only (as in the reference).

Following the reference (jkalogero/scalegmn, src/scalegmn/{layers,gnn_layers,models,graph_init,
mlp}.py, src/data/data_utils.py, configs/fmnist_cls/scalegmn{,_bidir}.yml with
src/utils/helpers.py update_common_args): the blocks above are EquivariantLayer / InvariantLayer
(sign_symmetrization: True) / EdgeUpdate / PermScaleInvariantReadout; message_fn and update
functions are one-layer EquivariantNets with `mlp_on_io: True`, `num_mlps: 3` (separate MLPs for
input and output receivers); skip connections bias-free (`gnn_skip_connections`); positional
encodings `sum_on_io: True` (nodes), multiplicative for all edges; no edge update in the last
layer, and none of the backward edges in the bidirectional sign variant. The reference's MLP
dropout (`dropout_all`) is `mlp_dropout`, its between-layer dropout `block_dropout`; the FMNIST
configuration is hidden = head_hidden = 128, layers = 2, all three dropouts 0.2.

Departures:
- Dense tensors in plain torch instead of PyG message passing; only the branch (equivariant or
  input/output MLP) a receiver uses is evaluated, instead of all of them followed by masking. So
  the MLPs that never receive a message (the forward messages' input-node MLP, the backward
  messages' output-node MLP) do not exist here; in the reference they are built and get zero
  gradients. The readout's unused `phi` (PermScaleInvariantReadout.phi, never called) is also
  left out.
- Edge types of the last layer pair: the reference (data_utils.get_edge_types) numbers them in
  blocks of n_L consecutive edges of a source-major edge list (nn_to_edge_index), which is one type
  per output neuron only when there is one output (FMNIST, MNIST); with several outputs it gives
  different types to different hidden neurons, breaking the permutation symmetry (the reference's
  configurations with 3 outputs, CIFAR-10, set `edge_pos_embed: False`, so it never shows there).
  Here every edge into output neuron o has type o, as intended.
- Representation layers: the reference reads out once, after the last layer; here the same
  (shared) readout is also applied after every earlier layer to give representation layers
  1..layers (the logits use only the last one, as in the reference).
- The head is the reference's global_mlp (Linear, LayerNorm, SiLU, dropout, Linear for one head
  layer) generalised to `head_layers` hidden layers of width `head_hidden`.
- The forward variant's input-node update MLP sees [h, 0] (no forward messages reach inputs), as
  in the reference, so half of its first weight matrix multiplies zeros.
"""

import torch
import torch.nn.functional as F
from torch import nn

from gmnrep.models.param_graph import Weights, check_layer_sizes

DIRECTIONS = ("forward", "bidirectional")


class MLP(nn.Module):
    """Linear, LayerNorm, SiLU, dropout, Linear (the reference's `mlp` with one hidden layer)."""

    def __init__(self, in_features: int, out_features: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.fc_in = nn.Linear(in_features, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)
        self.fc_out = nn.Linear(hidden, out_features)

    def after_first(self, pre: torch.Tensor) -> torch.Tensor:
        """The rest of the MLP, from the first layer's output (bias included)."""
        return self.fc_out(self.dropout(F.silu(self.norm(pre))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.after_first(self.fc_in(x))


class SignSymmetrised(nn.Module):
    """sym(x) = ρ(x) + ρ(-x): invariant to x -> -x (per feature vector)."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.rho = MLP(dim, dim, hidden, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        linear = F.linear(x, self.rho.fc_in.weight)  # shared by x and -x
        bias = self.rho.fc_in.bias
        return self.rho.after_first(linear + bias) + self.rho.after_first(bias - linear)


class SignEquivariant(nn.Module):
    """eq(x) = W x ⊙ φ(sym(x)): eq(-x) = -eq(x)."""

    def __init__(self, in_features: int, out_features: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=False)
        self.sym = SignSymmetrised(in_features, hidden, dropout)
        self.phi = MLP(in_features, out_features, hidden, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) * self.phi(self.sym(x))


class MessageFunction(nn.Module):
    """M(A e ⊙ B h_sender): `hidden` (eq) for hidden receivers, `io` (an MLP) for the input or
    output receivers of this direction."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.edge = nn.Linear(dim, dim, bias=False)  # A
        self.sender = nn.Linear(dim, dim, bias=False)  # B
        self.hidden = SignEquivariant(dim, dim, hidden, dropout)
        self.io = MLP(dim, dim, hidden, dropout)

    def forward(self, e: torch.Tensor, h_sender: torch.Tensor, hidden_receiver: bool) -> torch.Tensor:
        z = self.edge(e) * self.sender(h_sender)
        return self.hidden(z) if hidden_receiver else self.io(z)


class SignEdgeUpdate(nn.Module):
    """e_ji' = C e_ji ⊙ ψ([sym(h_i), sym(h_j)]) for an edge i -> j (i on the input side)."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.dim = dim
        self.linear = nn.Linear(dim, dim, bias=False)  # C
        self.sym = SignSymmetrised(dim, hidden, dropout)
        self.psi = MLP(2 * dim, dim, hidden, dropout)

    def forward(self, e: torch.Tensor, h_src: torch.Tensor, h_dst: torch.Tensor) -> torch.Tensor:
        """Per edge: e (..., dim), h_src and h_dst (..., dim) its endpoints."""
        return self.linear(e) * self.psi(torch.cat([self.sym(h_src), self.sym(h_dst)], dim=-1))

    def dense(self, e: torch.Tensor, sym_src: torch.Tensor, sym_dst: torch.Tensor) -> torch.Tensor:
        """e (batch, n_dst, n_src, dim); sym_src (batch, n_src, dim), sym_dst (batch, n_dst, dim)
        the endpoints' sym(h), already computed per node."""
        weight = self.psi.fc_in.weight
        src_term = F.linear(sym_src, weight[:, : self.dim])
        dst_term = F.linear(sym_dst, weight[:, self.dim :], self.psi.fc_in.bias)
        return self.linear(e) * self.psi.after_first(src_term[:, None] + dst_term[:, :, None])


class ScaleGMNLayer(nn.Module):
    """One message-passing layer (see the module doc); dense form over per-layer node tensors."""

    def __init__(self, dim: int, hidden: int, bidirectional: bool, update_edges: bool, dropout=0.0, block_dropout=0.0):
        super().__init__()
        self.bidirectional = bidirectional
        self.forward_messages = MessageFunction(dim, hidden, dropout)
        self.backward_messages = MessageFunction(dim, hidden, dropout) if bidirectional else None
        width = (3 if bidirectional else 2) * dim
        self.update_hidden = SignEquivariant(width, dim, hidden, dropout)
        self.update_input = MLP(width, dim, hidden, dropout)
        self.update_output = MLP(width, dim, hidden, dropout)
        self.edge_update = SignEdgeUpdate(dim, hidden, dropout) if update_edges else None
        self.skip = nn.Linear(dim, dim, bias=False)
        self.dropout = nn.Dropout(block_dropout)

    def update_function(self, layer: int, num_layers: int) -> nn.Module:
        """The node update of neurons in SIREN layer `layer` of 0..num_layers - 1."""
        if layer == 0:
            return self.update_input
        return self.update_output if layer == num_layers - 1 else self.update_hidden

    def forward(self, hs: list[torch.Tensor], es: list[torch.Tensor], es0: list[torch.Tensor]):
        """hs[l] (batch, n_l, dim) nodes of SIREN layer l; es[l], es0[l] (batch, n_{l+1}, n_l, dim)
        the current and the original edge features of layer pair l."""
        last = len(hs) - 1
        forward = [torch.zeros_like(hs[0])]
        for pair, e in enumerate(es):
            forward.append(self.forward_messages(e, hs[pair][:, None], pair + 1 < last).sum(dim=2))
        parts = [hs, forward]
        if self.bidirectional:
            backward = [
                self.backward_messages(e0, hs[pair + 1][:, :, None], pair > 0).sum(dim=1) for pair, e0 in enumerate(es0)
            ]
            parts.append([*backward, torch.zeros_like(hs[-1])])
        if self.edge_update is not None:
            syms = [self.edge_update.sym(h) for h in hs]
            es = [self.edge_update.dense(e, syms[pair], syms[pair + 1]) for pair, e in enumerate(es)]
        new_hs = []
        for layer, inputs in enumerate(zip(*parts)):  # inputs: h, forward (, backward) messages
            update = self.update_function(layer, last + 1)(torch.cat(inputs, dim=-1))
            new_hs.append(self.dropout(self.skip(inputs[0]) + update))
        return new_hs, es


class SignInvariantReadout(nn.Module):
    """[Σ_hidden φ(sym(h)), input nodes' h in order, output nodes' h in order] (batch, features)."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.sym = SignSymmetrised(dim, hidden, dropout)
        self.phi = MLP(dim, dim, hidden, dropout)

    def forward(self, hs: list[torch.Tensor]) -> torch.Tensor:
        pooled = sum(self.phi(self.sym(h)).sum(dim=1) for h in hs[1:-1])
        return torch.cat([pooled, hs[0].flatten(1), hs[-1].flatten(1)], dim=1)


class ScaleGMN(nn.Module):
    def __init__(
        self,
        layer_sizes: tuple[int, ...],
        num_classes: int,
        hidden: int = 128,
        layers: int = 4,
        direction: str = "forward",
        head_hidden: int = 128,
        head_layers: int = 1,
        dropout: float = 0.0,
        block_dropout: float = 0.0,
        mlp_dropout: float = 0.0,
        mlp_hidden: int | None = None,
    ):
        """`dropout`: in the head (between its layers and before the classifier); `block_dropout`:
        on the node features after each layer; `mlp_dropout`: inside every MLP of the layers and
        the readout. `mlp_hidden`: width of those MLPs' hidden layer (default `hidden`)."""
        super().__init__()
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
        if len(layer_sizes) < 3:
            raise ValueError(f"ScaleGMN needs a SIREN with hidden layers, not {tuple(layer_sizes)}")
        if layers < 1:
            raise ValueError(f"layers must be at least 1, not {layers}")
        self.layer_sizes, self.direction = tuple(layer_sizes), direction
        mlp_hidden = mlp_hidden or hidden
        n_in, n_out, num_pairs = layer_sizes[0], layer_sizes[-1], len(layer_sizes) - 1
        # Per layer pair: the root mean square of the weights, then of the biases, over the training set.
        self.register_buffer("input_scale", torch.ones(num_pairs, 2))
        self.bias_projection = nn.Linear(1, hidden, bias=False)
        self.weight_projection = nn.Linear(1, hidden, bias=False)
        # types: each input neuron, each hidden layer, each output neuron
        self.node_types = nn.Parameter(torch.randn(n_in + num_pairs - 1 + n_out, hidden))
        # types: each input neuron (first pair), each hidden pair, each output neuron (last pair)
        self.edge_types = nn.Parameter(torch.randn(n_in + num_pairs - 2 + n_out, hidden))
        self.layers = nn.ModuleList(
            ScaleGMNLayer(hidden, mlp_hidden, direction == "bidirectional", k < layers - 1, mlp_dropout, block_dropout)
            for k in range(layers)
        )
        self.readout = SignInvariantReadout(hidden, mlp_hidden, mlp_dropout)
        head, width = [], hidden * (1 + n_in + n_out)
        for layer in range(head_layers):
            head += [nn.Dropout(dropout)] if layer else []
            head += [nn.Linear(width if layer == 0 else head_hidden, head_hidden), nn.LayerNorm(head_hidden), nn.SiLU()]
        self.head = nn.Sequential(*head)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(head_hidden, num_classes)

    @property
    def num_layers(self) -> int:
        return len(self.layers) + 1

    @torch.no_grad()
    def set_input_scale(self, weights: Weights) -> None:
        """Divide each layer pair's weights and biases by their root mean square over these
        (training-set) weights: a positive factor per layer, so both symmetries are kept, unlike
        the GMN's standardisation, whose centring is not sign-equivariant. Without it a SIREN's
        hidden weights (about 0.01) barely move the features at initialisation."""
        scale = torch.tensor([[t.double().square().mean().sqrt() for t in (w, b)] for w, b in weights])
        self.input_scale.copy_(scale.clamp(min=1e-12))

    def forward(self, weights: Weights) -> torch.Tensor:
        return self.representations(weights)[0]

    def representations(self, weights: Weights) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits and the representation layers 1..layers + 1, each (batch, features)."""
        hs, es = self.encode(weights)
        es0, pooled = es, []
        for layer in self.layers:
            hs, es = layer(hs, es, es0)
            pooled.append(self.readout(hs))
        penultimate = self.head(pooled[-1])
        return self.classifier(self.dropout(penultimate)), [*pooled, penultimate]

    def encode(self, weights: Weights) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Initial node features per SIREN layer (batch, n_l, hidden) and edge features per layer
        pair (batch, n_{l+1}, n_l, hidden)."""
        check_layer_sizes(weights, self.layer_sizes, "a ScaleGMN")
        n_in, n_out, num_pairs = self.layer_sizes[0], self.layer_sizes[-1], len(weights)
        batch = weights[0][0].shape[0]
        node_types, edge_types = self.node_types, self.edge_types
        inputs = self.bias_projection.weight[:, 0] + node_types[:n_in]  # the constant 1 as bias
        hs = [inputs.expand(batch, -1, -1)]
        scale = self.input_scale
        for layer, (_, b) in enumerate(weights[:-1]):
            hs.append(self.bias_projection((b / scale[layer, 1])[..., None]) * node_types[n_in + layer])
        hs.append(self.bias_projection((weights[-1][1] / scale[-1, 1])[..., None]) + node_types[-n_out:])
        es = []
        for pair, (w, _) in enumerate(weights):
            if pair == 0:
                pe = edge_types[:n_in]  # (n_in, hidden): by source neuron
            elif pair == num_pairs - 1:
                pe = edge_types[-n_out:, None]  # (n_out, 1, hidden): by destination neuron
            else:
                pe = edge_types[n_in + pair - 1]
            es.append(self.weight_projection((w / scale[pair, 0])[..., None]) * pe)
        return hs, es
