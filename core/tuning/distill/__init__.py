"""Distillation: a bigger model teaches a small one from the answers the user already got, checked by verifiers."""
