"""Learning to rank: RankNet and LambdaRank re-rankers over (query, candidate) features.

One module per job, so importing this package imports nothing heavy (no torch):

* :mod:`.config` -- ``LtrConfig`` (model and training knobs) and ``RankerConfig`` (a
  ``rankers.<name>`` mapping split into those and the features), built with ``from_config``;
* :mod:`.model` -- the scorer: a small MLP plus a linear term, raw scores (no sigmoid);
* :mod:`.losses` -- RankNet's pairwise loss and LambdaRank's |ΔNDCG|-weighted one;
* :mod:`.lists` -- the data: one query's re-ranking list, padded batches of lists;
* :mod:`.train` -- the training loop with early stopping on validation NDCG;
* :mod:`.io` -- saving and loading a trained ranker's folder (models/ranker/<name>/);
* :mod:`.ranker` -- ``LtrRanker``: scoring, re-ranking, search and batch runs;
* :mod:`.pool` -- ``LearnedRanker``: a trained ranker over one pool indexed once, with
  stars (the service's and the CLI's learned methods).
"""
