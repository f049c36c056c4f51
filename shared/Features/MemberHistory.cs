using Serverless.Facts;

namespace Serverless.Features;

/// <summary>
/// The member facts a caller has: serving passes the archive's limited live read, training may pass
/// everything. The encoder itself applies the as-of rule and the history limit, so both compute the
/// same values. Ratings of the member are used; retractions and corrections (facts with
/// <see cref="Fact.Supersedes"/>) hide the versions they supersede once known; other kinds are ignored.
/// </summary>
public sealed record MemberHistory(string Member, IReadOnlyList<Fact> Ratings)
{
    /// <summary>A member the platform knows nothing about.</summary>
    public static MemberHistory Empty(string member) => new(member, []);
}
