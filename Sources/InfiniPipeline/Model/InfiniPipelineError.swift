// The one shape of every error the library throws, and the kind pattern written once.

import Foundation

/// What every error of the library says: what went wrong in one line, the file or value it
/// names, the option that lets the run start, and whose fault it is.
///
/// A caller (the command line, an app) reports any error of the library through this protocol
/// alone, without knowing its type:
///
/// ```swift
/// } catch let error as any InfiniPipelineError {
///     show(error.description)          // one line, naming the file or value
///     if error.isInputProblem { askForAnotherFile(error.file) }
/// }
/// ```
///
/// `localizedDescription` is the same line. Each error type also has a ``ErrorKind`` of its own (`FalError.Kind`, `MediaError.Kind`, …)
/// to compare with `==` or match in a `catch`.
public protocol InfiniPipelineError: LocalizedError, Sendable, CustomStringConvertible {
    /// What went wrong, in one line that names the file or value and the reason. Never holds
    /// a secret.
    var description: String { get }
    /// The name of the error's kind (`"invalidData"`), for logs and JSON.
    var kindName: String { get }
    /// Whose fault it is: what the user can change to make the run start.
    var fault: ErrorFault { get }
    /// The file (path or URL) the error is about, when there is one.
    var file: String? { get }
    /// The value the error refuses, as it was given, when there is one.
    var value: String? { get }
    /// The options property (a Swift property name such as `"maxFrames"`) whose value is at
    /// fault, or whose change lets the run start (`"credentials"` for a missing key). A
    /// command line maps it to its flag.
    var option: String? { get }
}

extension InfiniPipelineError {
    public var file: String? { nil }
    public var value: String? { nil }
    public var option: String? { nil }
    /// ``description``, so that `localizedDescription` is the same line.
    public var errorDescription: String? { description }

    /// Whether what was given (a file, a value, an option, a key, the output's place) is what
    /// must change, rather than a failure of the machine, the network or the provider.
    public var isInputProblem: Bool { fault.isInputProblem }
}

/// Whose fault an error is: decides how a run stops and a command line's exit code.
///
/// A struct over a name, so faults can be added without breaking callers; switch with a
/// `default`.
public struct ErrorFault: Hashable, Sendable, CustomStringConvertible {
    private let name: String
    private init(_ name: String) { self.name = name }
    /// The fault's name, e.g. `"input"`.
    public var description: String { name }

    /// An input (a file, a name, a transcript, a plan) is missing, unreadable or unusable.
    public static let input = ErrorFault("input")
    /// An option's value is out of range or cannot be parsed; ``InfiniPipelineError/option``
    /// names it.
    public static let option = ErrorFault("option")
    /// No usable key, endpoint or provider configuration.
    public static let credentials = ErrorFault("credentials")
    /// The output cannot be written where it was asked for, or the work dir is unusable.
    public static let output = ErrorFault("output")
    /// The provider could not make a clip (it failed, refused, or sent something broken).
    public static let generation = ErrorFault("generation")
    /// The machine, the disk, the network or a library failed.
    public static let system = ErrorFault("system")
    /// The spending cap stopped the run: what was committed reached the cap; running it again
    /// with a higher cap resumes.
    public static let budget = ErrorFault("budget")
    /// The run was stopped (Ctrl-C, a signal, a cancelled task); running it again resumes.
    public static let interrupted = ErrorFault("interrupted")

    /// Whether the user fixes it by changing what was given: ``input``, ``option``,
    /// ``credentials`` and ``output``.
    public var isInputProblem: Bool {
        self == .input || self == .option || self == .credentials || self == .output
    }
}

/// The kind of an error of type `Owner`: compare with `==` or match with `~=`
/// (`catch MediaError.Kind.invalidData`, `case FalError.Kind.generationFailed = error`).
///
/// A struct over a name, like AsyncHTTPClient's `HTTPClientError`, so new kinds can be added
/// without breaking callers; switch with a `default`. Each error type declares its kinds in an
/// extension: `extension ErrorKind where Owner == MediaError { public static var empty: Self { … } }`.
public struct ErrorKind<Owner: InfiniPipelineError>: Hashable, Sendable, CustomStringConvertible {
    /// The kind's name, e.g. `"invalidData"`.
    public let name: String
    /// A kind called `name`; only the owner's declarations create kinds.
    init(_ name: String) { self.name = name }
    /// ``name``.
    public var description: String { name }

    /// Whether `error` is an `Owner` of this kind.
    public static func ~= (kind: Self, error: any Error) -> Bool {
        (error as? Owner)?.kindName == kind.name
    }
}
