using Serverless.Facts;

namespace Serverless.LocalHost.Replay;

/// <summary>
/// Something that happens at chosen moments of a replay (the replay's traffic). For every fact the
/// replay first asks <see cref="Wants"/>; only when it answers true does the replay publish what it
/// holds (so the archive can know everything before the fact) and call <see cref="BeforeAsync"/>,
/// with the clock at the fact's time, before it publishes the fact. <see cref="BeforeAsync"/> runs
/// right after the <see cref="Wants"/> that chose it and before the next one, so a hook that draws
/// from one random sequence draws in the same order every run. A hook may leave work running when
/// <see cref="BeforeAsync"/> returns (requests in flight while the replay goes on); the replay awaits
/// <see cref="CompleteAsync"/> once it has published everything, and its failures are the replay's.
/// </summary>
public interface IReplayHook
{
    bool Wants(FactEnvelope fact);

    Task BeforeAsync(FactEnvelope fact, CancellationToken cancellationToken);

    Task CompleteAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
