# Every target creates .venv on first use and installs what it needs into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# tensorflow-cpu installs much faster; use TF_EXTRA=gpu for the full tensorflow package.
TF_EXTRA ?= cpu

.PHONY: install demo test test-slow bench fuzz lint type format clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

install: $(PY)
	$(PY) -m pip install --quiet -e ".[$(TF_EXTRA),tests,lint,plot,export,atari,s3,ray]"

# The main job: train PPO on CartPole, save, then load in a new process and evaluate; draw the
# learning curve from the monitor files training wrote to agents/ppo-cartpole/.
demo: install
	$(VENV)/bin/sb-io train --algo ppo --env CartPole-v1 --timesteps 50000 --seed 0 --output agents/ppo-cartpole
	$(VENV)/bin/sb-io eval agents/ppo-cartpole.zip --episodes 10
	$(VENV)/bin/sb-io plot agents/ppo-cartpole --output agents/ppo-cartpole.png

test: install
	$(PY) -m pytest

test-slow: install
	$(PY) -m pytest -m slow

# install_peers.py installs torch==2.13.0 (a CPU build) before Stable-Baselines3, which would
# otherwise pull the newest torch with several GB of CUDA packages.
bench: install
	$(PY) benchmarks/install_peers.py
	$(PY) benchmarks/run_all.py

# Fuzz the read path for FUZZ_SECONDS (Hypothesis strategies in a memory- and time-limited worker;
# FUZZ_ENGINE=atheris or both adds atheris' coverage-guided engine); findings go to fuzz/findings/.
FUZZ_SECONDS ?= 600
FUZZ_ENGINE ?= hypothesis
fuzz: install
	$(PY) -m pip install --quiet atheris || echo "atheris did not install: the Hypothesis engine runs alone"
	$(PY) -m fuzz.run --seconds $(FUZZ_SECONDS) --engine $(FUZZ_ENGINE)

lint: install
	$(PY) -m ruff check stable_baselines_io tests benchmarks fuzz

type: install
	$(PY) -m mypy stable_baselines_io

format: install
	$(PY) -m ruff format stable_baselines_io tests benchmarks

clean:
	rm -rf $(VENV) agents build *.egg-info
