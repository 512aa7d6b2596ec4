"""The imperative shell: everything that touches Faust, Kafka, HTTP or the clock, assembled from
settings by one function, ``worker.main.build``. Nothing here runs or registers on import."""
