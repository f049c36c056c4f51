namespace Serverless.Models;

/// <summary>A model version that already exists was written again. Versions are immutable: train under a new version.</summary>
public sealed class ModelVersionExistsException : InvalidOperationException
{
    public ModelVersionExistsException()
    {
    }

    public ModelVersionExistsException(string message)
        : base(message)
    {
    }

    public ModelVersionExistsException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The model version is not in the store or registry.</summary>
public sealed class ModelNotFoundException : KeyNotFoundException
{
    public ModelNotFoundException()
    {
    }

    public ModelNotFoundException(string message)
        : base(message)
    {
    }

    public ModelNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The "live" alias is not what the caller expected (someone else published or rolled back
/// first), or it changed between read and write. Nothing was changed: re-read and decide again.
/// </summary>
public sealed class ModelAliasConflictException : InvalidOperationException
{
    public ModelAliasConflictException()
    {
    }

    public ModelAliasConflictException(string message)
        : base(message)
    {
    }

    public ModelAliasConflictException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// A version's status is not the one a change required (e.g. it was rejected while being approved or
/// published). Nothing was changed; the status that is there stands.
/// </summary>
public sealed class ModelStatusConflictException : InvalidOperationException
{
    public ModelStatusConflictException()
    {
    }

    public ModelStatusConflictException(string message)
        : base(message)
    {
    }

    public ModelStatusConflictException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
