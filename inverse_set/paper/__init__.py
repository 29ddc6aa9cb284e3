"""The paper's solver: the augmented Lagrangian's terms, the repulsion and realism energies, the seeds and their starts."""
