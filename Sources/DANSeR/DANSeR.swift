/// DANSeR: the session recommender's numeric core. Knows nothing about databases.
public enum DANSeRModule {}
