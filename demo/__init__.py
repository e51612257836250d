"""The "Soom" upsell demo: `manage.py seed_demo`, the seeded data generators and the model trained on
them (the generators and training are pure)."""
