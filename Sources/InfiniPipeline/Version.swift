/// The version of the InfiniPipeline library and the `infinistitch` tool.
public enum InfiniPipelineVersion {
    /// Semantic version string, printed by `infinistitch --version`.
    public static let string = "0.1.0"
}
