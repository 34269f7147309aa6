"""Matrix factorisation trained with the shared engine (LightGCN with zero layers)."""

from __future__ import annotations

from typing import Any

from graphrec.models.lightgcn import _MODEL_DOC, _GraphEmbeddingModel
from graphrec.training import engine_parameters

__all__ = ["MF"]


@engine_parameters(after="embedding_dim")
class MF(_GraphEmbeddingModel):
    __doc__ = f"""Matrix factorisation (BPR-MF by default): score = user vector . item vector.

    The same module and training engine as :class:`graphrec.LightGCN` with no
    propagation, so losses, sampling, schedules and early stopping behave alike.

    Parameters
    ----------
    embedding_dim : int, default 64
    {{engine_parameters}}
{_MODEL_DOC}

    Attributes
    ----------
    user_embeddings_ : ndarray of float32, shape (n_users, embedding_dim)
    item_embeddings_ : ndarray of float32, shape (n_items, embedding_dim)
    history_, loss_history_, best_epoch_, stopped_, batch_size_, neg_pool_ : see :class:`graphrec.LightGCN`

    Notes
    -----
    The engine's parameters (``loss`` to ``eval_every``) are the fields of
    :class:`graphrec.training.TrainConfig`, documented there once.

    Examples
    --------
    >>> import graphrec as gr
    >>> x = gr.Interactions.from_arrays([0, 0, 1, 2], [0, 1, 1, 2], n_users=3, n_items=3)
    >>> gr.MF(embedding_dim=4, epochs=3, batch_size=4, random_state=0).fit(x).item_embeddings_.shape
    (3, 4)
    """

    def __init__(
        self,
        *,
        embedding_dim: int = 64,
        similarity: str | None = None,
        init_std: float = 0.1,
        random_state: int | None = 0,
        device: str = "auto",
        verbose: bool = False,
        **engine: Any,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.similarity = similarity
        self.init_std = init_std
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self._set_engine_params(engine)

    def _layer_weights(self) -> tuple[float, ...]:
        return (1.0,)
