"""Adversarial attacks and robustness: FGSM, PGD, AdvGAN, MNIST-C-style corruptions, robust training.

```python
from genzoo.attack import attack_classifier, fgsm, pgd, PixelModel, load_target
r = attack_classifier("lenet-mnist", method="pgd", eps=[0.3], n=1000, steps=40, step_size=0.01)
```
Images are in [0, 1] and ε in [0, 1] pixel units; genzoo's classifiers read [-1, 1], so attacks see them
through ``PixelModel``.
"""
from genzoo.attack.evaluate import METHODS, attack_classifier, format_table, make_attack, robust_accuracy
from genzoo.attack.gradient import PixelModel, attack_loss, check_eps, fgsm, pgd, project
from genzoo.metrics.classifier import load_classifier_spec as load_target

__all__ = ["METHODS", "PixelModel", "attack_classifier", "attack_loss", "check_eps", "fgsm", "format_table",
           "load_target", "make_attack", "pgd", "project", "robust_accuracy"]
