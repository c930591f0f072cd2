"""Pure machine-learning code for movierec, free of Django.

Nothing here loads TensorFlow or the model at import time: a process that has
run a TF op hangs its forked children (see shared/docs/ml-stack.md), so every
heavy import happens lazily inside functions.
"""
