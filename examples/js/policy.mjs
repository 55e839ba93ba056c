// The deterministic action of an agent written by stable-baselines-io: the `data` values this
// needs (spaces, policy class, policy_kwargs) and the MLP forward pass of its parameters.

const NON_FINITE = { Infinity: Infinity, "-Infinity": -Infinity, NaN: NaN };

const ACTIVATIONS = {
  tanh: Math.tanh,
  relu: (x) => Math.max(x, 0),
  elu: (x) => (x > 0 ? x : Math.expm1(x)),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  softplus: (x) => Math.log1p(Math.exp(-Math.abs(x))) + Math.max(x, 0),
  selu: (x) => 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * Math.expm1(x)),
  swish: (x) => x / (1 + Math.exp(-x)),
  softsign: (x) => x / (1 + Math.abs(x)),
  relu6: (x) => Math.min(Math.max(x, 0), 6),
  leaky_relu: (x) => (x > 0 ? x : 0.2 * x),
  linear: (x) => x,
  identity: (x) => x,
};
// What Stable Baselines 2 and this library default to when policy_kwargs has no act_fun.
const DEFAULT_ACTIVATION = { actor_critic: "tanh", dqn: "relu" };
// tf.contrib.layers.layer_norm's variance epsilon, as the library's DQN uses.
const LAYER_NORM_EPSILON = 1e-12;

/** A `data` value in the plain form JSON gives: arrays, tuples and floats of the library's codecs decoded. */
export function decodeValue(value) {
  if (Array.isArray(value)) return value.map(decodeValue);
  if (value === null || typeof value !== "object") return value;
  switch (value[":codec:"]) {
    case undefined:
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, decodeValue(item)]));
    case "numpy.ndarray":
      return value.values.flat(Infinity).map((item) => NON_FINITE[item] ?? item);
    case "float":
      return NON_FINITE[value.value] ?? value.value;
    case "tuple":
      return value.items.map(decodeValue);
    case "gymnasium.space":
      return Object.fromEntries(Object.entries(value).filter(([key]) => !key.startsWith(":")).map(([key, item]) => [key, decodeValue(item)]));
    case "registered_class":
      return { registeredClass: value.name };
    default:
      throw new Error(`a data value uses the codec '${value[":codec:"]}', which this reader does not decode`);
  }
}

function linear(input, weights, biases, where) {
  const [inputs, outputs] = weights.shape;
  if (input.length !== inputs) throw new Error(`${where}: ${input.length} inputs, expected ${inputs}`);
  const output = Array.from(biases.data);
  for (let i = 0; i < inputs; i++) {
    const x = input[i];
    for (let j = 0; j < outputs; j++) output[j] += x * weights.data[i * outputs + j];
  }
  return output;
}

function layerNorm(input, beta, gamma) {
  const mean = input.reduce((sum, x) => sum + x, 0) / input.length;
  const variance = input.reduce((sum, x) => sum + (x - mean) ** 2, 0) / input.length;
  const scale = 1 / Math.sqrt(variance + LAYER_NORM_EPSILON);
  return input.map((x, i) => (x - mean) * scale * gamma.data[i] + beta.data[i]);
}

function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i; // first maximum, as tf.argmax
  return best;
}

function countLayers(parameters, name) {
  let count = 0;
  while (parameters.has(name(count))) count++;
  return count;
}

function features(observation, space) {
  if (space.space === "Discrete") {
    const oneHot = new Array(space.n).fill(0);
    const index = observation - space.start;
    if (!Number.isInteger(index) || index < 0 || index >= space.n) throw new Error(`observation ${observation} is not in ${JSON.stringify(space)}`);
    oneHot[index] = 1;
    return oneHot;
  }
  if (space.space === "Box") {
    const flat = [observation].flat(Infinity);
    const size = space.shape.reduce((product, n) => product * n, 1);
    if (flat.length !== size) throw new Error(`an observation has ${flat.length} values, expected ${size} (shape ${space.shape})`);
    return flat.map(Math.fround); // the network reads float32
  }
  throw new Error(`observation space ${space.space}: this reader handles Box and Discrete`);
}

/** The actor-critic MlpPolicy (PPO, A2C): shared layers, then the policy layers, then the `pi` head. */
function actorCriticAction(input, parameters, activation, actionSpace) {
  const get = (name) => parameters.get(name);
  let latent = input;
  const shared = countLayers(parameters, (i) => `model/shared_fc${i}/w:0`);
  for (let i = 0; i < shared; i++) latent = linear(latent, get(`model/shared_fc${i}/w:0`), get(`model/shared_fc${i}/b:0`), `model/shared_fc${i}`).map(activation);
  const policyLayers = countLayers(parameters, (i) => `model/pi_fc${i}/w:0`);
  for (let i = 0; i < policyLayers; i++) latent = linear(latent, get(`model/pi_fc${i}/w:0`), get(`model/pi_fc${i}/b:0`), `model/pi_fc${i}`).map(activation);
  const head = linear(latent, get("model/pi/w:0"), get("model/pi/b:0"), "model/pi");
  if (actionSpace.space === "Discrete") return argmax(head);
  // Box: the Gaussian mean, clipped to the bounds as model.predict does.
  return head.map((mean, i) => Math.min(Math.max(mean, actionSpace.low[i]), actionSpace.high[i]));
}

/** One stream of the DQN Q-network: hidden layers (each optionally layer-normalised), then a linear head. */
function qStream(input, parameters, activation, scope) {
  const suffix = (i) => (i === 0 ? "" : `_${i}`);
  const layers = countLayers(parameters, (i) => `${scope}/fully_connected${suffix(i)}/weights:0`);
  let latent = input;
  for (let i = 0; i < layers; i++) {
    const layer = `${scope}/fully_connected${suffix(i)}`;
    latent = linear(latent, parameters.get(`${layer}/weights:0`), parameters.get(`${layer}/biases:0`), layer);
    if (i === layers - 1) return latent;
    const norm = `${scope}/LayerNorm${suffix(i)}`;
    if (parameters.has(`${norm}/beta:0`)) latent = layerNorm(latent, parameters.get(`${norm}/beta:0`), parameters.get(`${norm}/gamma:0`));
    latent = latent.map(activation);
  }
  throw new Error(`no layers under ${scope}`);
}

function dqnAction(input, parameters, activation) {
  const scores = qStream(input, parameters, activation, "deepq/model/action_value");
  if (!parameters.has("deepq/model/state_value/fully_connected/weights:0")) return argmax(scores);
  const [value] = qStream(input, parameters, activation, "deepq/model/state_value");
  const meanScore = scores.reduce((sum, x) => sum + x, 0) / scores.length;
  return argmax(scores.map((score) => value + score - meanScore));
}

/**
 * The deterministic policy of an agent read by readAgent.
 * @returns {(observation: any) => number | number[]} observation -> action
 */
export function makePolicy({ data, parameters }) {
  const policyName = decodeValue(data.policy)?.registeredClass;
  const family = policyName === "actor_critic.MlpPolicy" ? "actor_critic" : policyName?.startsWith("dqn.") ? "dqn" : null;
  if (family === null) {
    throw new Error(`data.policy is ${policyName ?? data.policy?.[":type:"]}, expected a policy class registered by ` +
      "stable-baselines-io (actor_critic.MlpPolicy, dqn.MlpPolicy, dqn.LnMlpPolicy); convert Stable Baselines 2 files with `sb-io convert`");
  }
  const kwargs = decodeValue(data.policy_kwargs ?? {}) ?? {};
  const activationName = kwargs.act_fun ?? DEFAULT_ACTIVATION[family];
  const activation = ACTIVATIONS[activationName];
  if (activation === undefined) throw new Error(`act_fun ${JSON.stringify(activationName)}: expected one of ${Object.keys(ACTIVATIONS)}`);
  const observationSpace = decodeValue(data.observation_space);
  const actionSpace = decodeValue(data.action_space);
  if (observationSpace?.space === undefined || actionSpace?.space === undefined) {
    throw new Error("data.observation_space / data.action_space are not stored as plain JSON spaces (pickled?): convert the file with `sb-io convert`");
  }
  if (!["Discrete", "Box"].includes(actionSpace.space)) throw new Error(`action space ${actionSpace.space}: expected Discrete or Box`);
  return (observation) => {
    const input = features(observation, observationSpace);
    if (family === "dqn") return dqnAction(input, parameters, activation) + actionSpace.start;
    const action = actorCriticAction(input, parameters, activation, actionSpace);
    return actionSpace.space === "Discrete" ? action + actionSpace.start : action;
  };
}
