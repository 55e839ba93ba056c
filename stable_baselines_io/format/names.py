"""The one table of the library's built-in names.

Each built-in class appears once, with every name it goes by: the registered name written to
agent files, its import path, the names Stable Baselines 2 pickles use for the class it replaces,
the policy aliases Stable Baselines 2 accepted (``"MlpPolicy"``) and, for policies, how Stable
Baselines 2 named their parameters. The registry, the safe unpickler, ``convert`` and the
interoperability helpers all read this table; nothing here imports a model class.

>>> by_registered_name("dqn.LnMlpPolicy").sb2_aliases
('LnMlpPolicy',)
>>> by_sb2_pickle_name("stable_baselines.common.policies", "MlpPolicy").registered_name
'actor_critic.MlpPolicy'
"""

from __future__ import annotations

from dataclasses import dataclass

#: Parameter naming schemes of Stable Baselines 2 policies (see :mod:`stable_baselines_io.interop`).
ACTOR_CRITIC_SCHEME = "actor_critic"
#: Stable Baselines 2's ``LstmPolicy`` family (``model/lstm1/...``); read by the actor-critic algorithms.
RECURRENT_SCHEME = "actor_critic_lstm"
DQN_SCHEME = "dqn"
#: The variable scope each scheme's parameter names start with, and the algorithm that reads them.
SB2_SCOPES = {ACTOR_CRITIC_SCHEME: "model", DQN_SCHEME: "deepq"}
SCHEME_ALGORITHMS = {ACTOR_CRITIC_SCHEME: "ppo", DQN_SCHEME: "dqn"}
#: Algorithms whose files share another's parameter names, told apart by data keys only they write
#: (Stable Baselines 2's A2C names its parameters as PPO2's).
ALGORITHM_DATA_KEYS = {"a2c": frozenset({"alpha", "lr_schedule"})}
#: Every algorithm this library loads, as written in the ``algorithm`` metadata entry (lower case).
ALGORITHMS = (*SCHEME_ALGORITHMS.values(), *ALGORITHM_DATA_KEYS)


@dataclass(frozen=True)
class BuiltinName:
    """Every name of one built-in class.

    :param registered_name: the name written to agent files
    :param import_path: ``"module:attribute"`` where the class lives
    :param sb2_pickle_names: ``(module, qualname)`` pairs that Stable Baselines 2 pickles use for
        the class this one replaces
    :param sb2_aliases: policy names Stable Baselines 2 accepted instead of the class
    :param parameter_scheme: for policies, the Stable Baselines 2 parameter naming scheme
    :param layer_norm_default: for DQN policies and recurrent policies, whether layer
        normalization is on by default (``LnMlpPolicy``, ``MlpLnLstmPolicy``)
    :param cnn: for policies, whether the nature CNN extracts the features (an image observation)
    """

    registered_name: str
    import_path: str
    sb2_pickle_names: tuple[tuple[str, str], ...] = ()
    sb2_aliases: tuple[str, ...] = ()
    parameter_scheme: str | None = None
    layer_norm_default: bool = False
    cnn: bool = False

    @property
    def module(self) -> str:
        """:return: the module of :attr:`import_path`"""
        return self.import_path.partition(":")[0]

    @property
    def qualname(self) -> str:
        """:return: the attribute of :attr:`import_path`"""
        return self.import_path.partition(":")[2]


BUILTIN_NAMES: tuple[BuiltinName, ...] = (
    BuiltinName("schedules.ConstantSchedule", "stable_baselines_io.schedules:ConstantSchedule",
                sb2_pickle_names=(("stable_baselines.common.schedules", "ConstantSchedule"),)),
    BuiltinName("schedules.LinearSchedule", "stable_baselines_io.schedules:LinearSchedule",
                sb2_pickle_names=(("stable_baselines.common.schedules", "LinearSchedule"),)),
    BuiltinName("schedules.PiecewiseSchedule", "stable_baselines_io.schedules:PiecewiseSchedule",
                sb2_pickle_names=(("stable_baselines.common.schedules", "PiecewiseSchedule"),)),
    BuiltinName("actor_critic.MlpPolicy", "stable_baselines_io.common.policies:MlpPolicy",
                sb2_pickle_names=(("stable_baselines.common.policies", "MlpPolicy"),), sb2_aliases=("MlpPolicy",),
                parameter_scheme=ACTOR_CRITIC_SCHEME),
    BuiltinName("dqn.MlpPolicy", "stable_baselines_io.dqn.policies:MlpPolicy",
                sb2_pickle_names=(("stable_baselines.deepq.policies", "MlpPolicy"),), sb2_aliases=("MlpPolicy",),
                parameter_scheme=DQN_SCHEME),
    BuiltinName("dqn.LnMlpPolicy", "stable_baselines_io.dqn.policies:LnMlpPolicy",
                sb2_pickle_names=(("stable_baselines.deepq.policies", "LnMlpPolicy"),), sb2_aliases=("LnMlpPolicy",),
                parameter_scheme=DQN_SCHEME, layer_norm_default=True),
    BuiltinName("actor_critic.CnnPolicy", "stable_baselines_io.common.cnn_policies:CnnPolicy",
                sb2_pickle_names=(("stable_baselines.common.policies", "CnnPolicy"),), sb2_aliases=("CnnPolicy",),
                parameter_scheme=ACTOR_CRITIC_SCHEME, cnn=True),
    BuiltinName("dqn.CnnPolicy", "stable_baselines_io.dqn.cnn_policies:CnnPolicy",
                sb2_pickle_names=(("stable_baselines.deepq.policies", "CnnPolicy"),), sb2_aliases=("CnnPolicy",),
                parameter_scheme=DQN_SCHEME, cnn=True),
    BuiltinName("dqn.LnCnnPolicy", "stable_baselines_io.dqn.cnn_policies:LnCnnPolicy",
                sb2_pickle_names=(("stable_baselines.deepq.policies", "LnCnnPolicy"),), sb2_aliases=("LnCnnPolicy",),
                parameter_scheme=DQN_SCHEME, layer_norm_default=True, cnn=True),
    *(BuiltinName(f"actor_critic.{name}", f"stable_baselines_io.common.recurrent_policies:{name}",
                  sb2_pickle_names=(("stable_baselines.common.policies", name),), sb2_aliases=(name,),
                  parameter_scheme=RECURRENT_SCHEME, layer_norm_default="Ln" in name,
                  cnn=name.startswith("Cnn"))
      for name in ("MlpLstmPolicy", "MlpLnLstmPolicy", "CnnLstmPolicy", "CnnLnLstmPolicy")),
)

_BY_REGISTERED_NAME = {entry.registered_name: entry for entry in BUILTIN_NAMES}
_BY_SB2_PICKLE_NAME = {pickle_name: entry for entry in BUILTIN_NAMES for pickle_name in entry.sb2_pickle_names}
_BY_IMPORT_PATH = {(entry.module, entry.qualname): entry for entry in BUILTIN_NAMES}


def by_registered_name(name: str) -> BuiltinName | None:
    """The built-in class registered under ``name``.

    :param name: a registered name
    :return: its entry, or None when ``name`` is not built in
    """
    return _BY_REGISTERED_NAME.get(name)


def by_sb2_pickle_name(module: str, qualname: str) -> BuiltinName | None:
    """The built-in class replacing the Stable Baselines 2 class a pickle names.

    :param module: the module the pickle names
    :param qualname: the class the pickle names
    :return: its entry, or None
    """
    return _BY_SB2_PICKLE_NAME.get((module, qualname))


def by_import_path(module: str, qualname: str) -> BuiltinName | None:
    """The built-in class that lives at ``module.qualname``.

    :param module: a module name
    :param qualname: a class name in it
    :return: its entry, or None
    """
    return _BY_IMPORT_PATH.get((module, qualname))
