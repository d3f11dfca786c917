pytest_plugins = [
    "tests.fixtures.platform",
    "tests.fixtures.vault",
    "tests.fixtures.instance",
    "tests.fixtures.sandbox",
    "tests.fixtures.chain",
    "tests.fixtures.esplora",
    "tests.fixtures.kube_api",
    "tests.fixtures.provisioner",
    "tests.fixtures.artefacts",
    "tests.fixtures.serve",
    "tests.fixtures.containers",
]
