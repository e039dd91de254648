// The result video's download: the fal client's resumable download, without the key.

extension WaveSpeedClient {
    /// Downloads a result video (a completed task's ``WaveSpeedPrediction/videoURL``) to
    /// `destination`, as ``FalClient/download(_:to:onEvent:)`` does: streamed to a temporary
    /// file beside it, resumed with `Range` after an interruption, retried for
    /// ``WaveSpeedConfiguration/download``'s time budget, flushed to disk, checked to be an MP4
    /// with a video stream, then renamed into place. The request carries no key.
    /// - Parameters:
    ///   - url: the video's URL.
    ///   - destination: the path to save it at; its folder must exist.
    ///   - onRetry: receives each interruption before its wait.
    /// - Returns: where the video was saved, its size and its video stream.
    /// - Throws: ``WaveSpeedError``: `.insecureURL`/`.invalidURL` before anything is sent,
    ///   `.downloadTooLarge`, `.downloadIncomplete` when the budget ran out, `.httpStatus` for an
    ///   answer that is not retried (404, 403, …), `.invalidVideo`, `.fileError`;
    ///   `CancellationError`.
    @discardableResult
    public func download(
        _ url: String, to destination: String, onRetry: @escaping @Sendable (DownloadRetry) -> Void = { _ in }
    ) async throws -> DownloadedVideo {
        do {
            return try await downloader.run(url, expectedSize: nil, to: destination, onRetry: onRetry)
        } catch let error as FalError {
            throw WaveSpeedError(error)
        }
    }
}
