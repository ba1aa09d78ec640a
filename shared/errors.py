"""Errors a visitor can fix. The UI layer turns them into `gr.Error`; anything else is a bug and is logged."""


class UserError(Exception):
    """Bad input or a choice the visitor can change; the message says what to change."""


class ModelUnavailable(UserError):
    """A model could not be loaded; the message names the model and how to make it available."""
