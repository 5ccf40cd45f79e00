"""The jobs: backup, copy, prune and reconcile (`engine`, `copier`, `pruner`, `worker`), the restore
drill (`drill`) and the preflight checks (`preflight`). Each asks the rules what to do and the gateway
to do it.
"""
