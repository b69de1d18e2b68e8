import Testing
@testable import DANSeR
