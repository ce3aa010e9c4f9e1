"""Integration-test harness: throwaway PKI, token server, real registries and a fault-injecting proxy."""
