"""Published, measured training steps (package data) and the networks they ran."""
