# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Your own models
#
# The sampler needs four things about your networks, given as one `Models` value
# (or as keywords of `sample_inverse_set`):
#
# * `generator` G: `code (d,) -> image`, one example, no batch axis;
# * `encoder` E: `image -> features`, the space where diversity is measured
#   (the paper uses early layers of the classifier);
# * `target`: `image -> activations`, an array or a dict by layer name;
# * `init`: how the seeds' starting codes are drawn: an int d for N(0, I_d), or a
#   function `rng_key -> code`.
#
# Which method runs follows from `init`: a standard-Gaussian init (an int d, or
# `initialization.gaussian(d)`) says G's input is z ~ N(0, I), and the default is then
# `"prior-ladder"` (it samples the prior restricted to the band); any other init gives
# the paper's method, `"paper"`. Choose with `method=`; `res.stats.method` says which ran.
# A generator with a prior in front of it (z ~ N(0, I) mapped to its codes, such as a flow)
# gives `prior=` and `latent_dim=`.
#
# Optional: `code_bounds` (e.g. `(0, None)` for post-ReLU codes), `class_names`.
# E must map *into the code space* (same size as the code) only for
# `initialization.encoded_noise(E, …)` / `encoded_images(E, …)` and for the realism
# term: both feed E's output back into G.

# %%
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from inverse_set import Models, Unit, flax_target, initialization, sample_inverse_set

# %% [markdown]
# ## Plain JAX functions
# A 2-d code, G = sigmoid: images are points of the unit square. The neuron is a
# logistic unit, so its inverse set at a band is a slab across the square.

# %%
w, b = jnp.array([3.0, -2.0]), -0.5
neuron = lambda x: jax.nn.sigmoid(w @ x + b)
res = sample_inverse_set(neuron, 0.6, 0.7, n=60, generator=jax.nn.sigmoid, encoder=lambda x: x,
                         init=initialization.gaussian(2, scale=0.1), rng_key=0)
acts = np.asarray(jax.vmap(neuron)(jnp.asarray(res.images)))
assert ((acts >= 0.6) & (acts <= 0.7)).all()
assert res.stats.method == "paper"  # codes from N(0, 0.1² I): not the standard Gaussian, so the paper's method

# %%
import matplotlib.pyplot as plt

xs = np.linspace(0, 1, 200)
gx, gy = np.meshgrid(xs, xs)
a = 1 / (1 + np.exp(-(3 * gx - 2 * gy - 0.5)))
plt.contourf(gx, gy, (a >= 0.6) & (a <= 0.7), levels=[0.5, 1.5], colors=["#ddd"])
plt.scatter(res.images[:, 0], res.images[:, 1], s=8, c="C3", label="samples")
plt.gca().set_aspect("equal")
plt.legend()
plt.title("the inverse set of a logistic unit at [0.6, 0.7] (grey) and the samples")
plt.show()

# %% [markdown]
# ## A Flax module, units by layer name
# `flax_target` turns a linen module into a target whose layers are named by
# their submodule path; `Unit("dense1", 3)` is unit 3 of the layer `dense1`,
# `Unit("conv", 2)` the mean of channel 2 of a conv layer.


# %%
class Net(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(4, (3, 3), name="conv")(x))
        x = nn.relu(nn.Dense(8, name="dense1")(x.reshape(x.shape[0], -1)))
        return nn.Dense(3, name="out")(x)


class Decoder(nn.Module):
    @nn.compact
    def __call__(self, c):
        return nn.sigmoid(nn.Dense(8 * 8)(c)).reshape(c.shape[0], 8, 8, 1)


net, dec = Net(), Decoder()
p_net = net.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))
p_dec = dec.init(jax.random.key(1), jnp.zeros((1, 6)))
target = flax_target(net, p_net)
layers = target(jnp.zeros((8, 8, 1)))
assert set(layers) == {"conv", "dense1", "out", "output"}  # the layer names a Unit can use
print(sorted(layers))

models = Models(generator=lambda c: dec.apply(p_dec, c[None])[0], encoder=lambda x: x.reshape(-1),
                target=target, init=6, class_names=["a", "b", "c"])
level = float(target(models.generator(jnp.zeros(6)))["dense1"][3])
res = sample_inverse_set(Unit("dense1", 3), level - 0.05, level + 0.05, n=30, models=models, rng_key=0)
assert res.stats.method == "prior-ladder"  # init=6: z ~ N(0, I_6), so the Gaussian-prior method
again = np.array([target(jnp.asarray(x))["dense1"][3] for x in res.images])
assert ((again >= level - 0.05 - 1e-5) & (again <= level + 0.05 + 1e-5)).all()
print(f"{len(res)} samples of dense1[3] in [{level - 0.05:.3f}, {level + 0.05:.3f}], rechecked through the module")

# %% [markdown]
# ## When E does not map into the code space
# `initialization.encoded_noise(E, …)` draws codes E(noise): they have E's output size.
# With a 64-d encoder and a 6-d code, the sampler says so:

# %%
try:
    sample_inverse_set(Unit("dense1", 3), 0.0, 1.0, n=10, models=models.replace(
        init=initialization.encoded_noise(lambda x: jnp.zeros(64), (8, 8, 1))), method="paper")
except ValueError as err:
    print(err)
else:
    raise AssertionError("a 64-d init for a 6-d generator should have been refused")
