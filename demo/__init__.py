"""The "Soom" upsell demo: a seeded signup generator and the model trained on it (both pure)."""
