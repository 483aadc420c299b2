"""ikr: rotate AWS IAM user access keys across a whole AWS Organization."""

__version__ = "0.1.0"
