using Serverless.Requests;

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

/// <summary>The model version is not in the store or registry (a refusal: 404).</summary>
public sealed class ModelNotFoundException : RequestRefusedException
{
    public ModelNotFoundException()
        : this("the model version is not registered")
    {
    }

    public ModelNotFoundException(string message)
        : base(404, message)
    {
    }

    public ModelNotFoundException(string message, Exception innerException)
        : base(404, message, innerException)
    {
    }
}

/// <summary>
/// The "live" alias is not what the caller expected (someone else published or rolled back
/// first), or it changed between read and write. Nothing was changed: re-read and decide again
/// (a refusal: 409).
/// </summary>
public sealed class ModelAliasConflictException : RequestRefusedException
{
    public ModelAliasConflictException()
        : this("the live alias changed; nothing was changed")
    {
    }

    public ModelAliasConflictException(string message)
        : base(409, message)
    {
    }

    public ModelAliasConflictException(string message, Exception innerException)
        : base(409, message, innerException)
    {
    }
}

/// <summary>
/// What was asked cannot be done from where the registry stands (a refusal: 409; nothing was changed):
/// a version's status is not the one a change required (it was rejected while being approved or
/// published: the status that is there stands), or a rollback finds nothing live, no previous
/// version, or a previous one rejected since.
/// </summary>
public sealed class ModelStatusConflictException : RequestRefusedException
{
    public ModelStatusConflictException()
        : this("the registry is not in a state that allows this")
    {
    }

    public ModelStatusConflictException(string message)
        : base(409, message)
    {
    }

    public ModelStatusConflictException(string message, Exception innerException)
        : base(409, message, innerException)
    {
    }
}
