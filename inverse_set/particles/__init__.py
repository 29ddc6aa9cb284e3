"""The particle method ("prior-ladder"): prior draws brought into the band through relaxed bands, moved until
decorrelated, and the band's mass. Modules import downwards only: state ← decorrelation, laws ← moves, mass,
prior_draws ← ladder."""
