"""The measures (coverage, recall, Fréchet, Vendi, …) and the baselines (PPGN, DGN-AM, rejection, …)."""
