"""The standard tests, one module per move; `base.AdapterConformanceTests` combines them."""
