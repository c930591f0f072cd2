"""placeholder"""
import numpy as np


def activity_bucket(n): return np.digitize(n, [5.5, 20.5])
def popularity_scores(x): return np.asarray(x.sum(0)).ravel()
def taste_scores(x, v): pass
class HybridModel: pass
