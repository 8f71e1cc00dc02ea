"""A generic webhook signed per the Standard Webhooks specification."""
