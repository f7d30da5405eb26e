"""Customer insight from the conversation log: events, profiles, segments, demand, forecasts.

- ``events``: what one logged turn tells us (pure function of the turn and the catalog)
- ``profiles``: folding events into a per-customer profile, and explaining it
- ``engine``: the incremental updater (background, in log order) and full recompute
- ``segments``: k-means personas over standardized profile features
- ``demand``: demand signals by day/product/category and clustered demand gaps
- ``forecast``: seasonal naive, moving average, exponential smoothing and a GRU,
  chosen per series by rolling-origin backtest
- ``personalise``: product answers re-ranked by the customer's profile
"""
