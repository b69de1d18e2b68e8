/// FeatureStore: PostgreSQL access and the stores. Knows nothing about model math.
public enum FeatureStoreModule {}
