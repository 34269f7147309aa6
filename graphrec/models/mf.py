"""Matrix factorisation trained with the shared engine (LightGCN with zero layers)."""

from __future__ import annotations

from graphrec.models.lightgcn import _TRAIN_DOC, _GraphEmbeddingModel

__all__ = ["MF"]


class MF(_GraphEmbeddingModel):
    __doc__ = f"""Matrix factorisation (BPR-MF by default): score = user vector . item vector.

    The same module and training engine as :class:`graphrec.LightGCN` with no
    propagation, so losses, sampling, schedules and early stopping behave alike.

    Parameters
    ----------
    embedding_dim : int, default 64
    {_TRAIN_DOC}
    Attributes
    ----------
    user_embeddings_ : ndarray of float32, shape (n_users, embedding_dim)
    item_embeddings_ : ndarray of float32, shape (n_items, embedding_dim)
    history_, loss_history_, best_epoch_, stopped_ : see :class:`graphrec.LightGCN`

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
        loss: str = "bpr",
        n_negatives: int = 1,
        neg_pool: int = 0,
        hard_negatives: int = 0,
        hard_fraction: float = 1.0,
        initial_loss: str | None = None,
        initial_fraction: float = 0.0,
        temperature: float = 0.1,
        reg: float = 1e-4,
        lr: float = 1e-2,
        lr_warmup: int = 0,
        lr_decay: str | None = None,
        lr_min_ratio: float = 0.0,
        average_fraction: float = 0.0,
        epochs: int = 100,
        batch_size: int = 8192,
        time_budget: float | None = None,
        patience: int | None = None,
        eval_every: int = 1,
        similarity: str | None = None,
        init_std: float = 0.1,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool = False,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.loss = loss
        self.n_negatives = n_negatives
        self.neg_pool = neg_pool
        self.hard_negatives = hard_negatives
        self.hard_fraction = hard_fraction
        self.initial_loss = initial_loss
        self.initial_fraction = initial_fraction
        self.temperature = temperature
        self.reg = reg
        self.lr = lr
        self.lr_warmup = lr_warmup
        self.lr_decay = lr_decay
        self.lr_min_ratio = lr_min_ratio
        self.average_fraction = average_fraction
        self.epochs = epochs
        self.batch_size = batch_size
        self.time_budget = time_budget
        self.patience = patience
        self.eval_every = eval_every
        self.similarity = similarity
        self.init_std = init_std
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _layer_weights(self) -> tuple[float, ...]:
        return (1.0,)
