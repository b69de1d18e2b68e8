import Testing
@testable import FeatureStore
