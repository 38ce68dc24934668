"""Scale-out mode: the same detection core as Faust workers on Kafka.

``topics`` names and creates the topics, ``ship`` follows files into the raw
topics, ``wire`` is the byte format on every topic, ``slices`` keeps detection
state per identity, ``worker`` is the Faust app (parse → attribute → repartition
by identity → detect → alerts → responders), ``broker`` starts a throw-away
Kafka-protocol broker for tests and benchmarks.
"""
