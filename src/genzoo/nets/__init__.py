"""Plain nn.Modules. Constructors take ints and tuples; discriminators return raw logits."""
from genzoo.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from genzoo.nets.mlp import MLPDiscriminator, MLPGenerator

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator"]
