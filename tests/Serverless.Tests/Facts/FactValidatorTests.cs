using System.Text;
using Serverless.Facts;

namespace Serverless.Tests.Facts;

public sealed class FactValidatorTests
{
    private static readonly DateTimeOffset Now = new(2018, 9, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly FactValidator validator = new(new FactLimits());

    private FactParseResult Parse(string json) => validator.Parse(Encoding.UTF8.GetBytes(json), Now);

    [Fact]
    public void A_valid_rating_becomes_a_fact_stamped_with_the_ingest_time()
    {
        var r = Parse("""{"schemaVersion":1,"id":"rating:1:31","kind":"rating","member":"1","title":"31","value":4.5,"eventTime":"2018-08-01T10:00:00Z"}""");
        Assert.True(r.IsValid, r.Error);
        Assert.Equal(FactKind.Rating, r.Fact!.Kind);
        Assert.Equal(Now, r.Fact.IngestTime);
        Assert.Equal("m_1", r.Fact.PartitionKey);
        Assert.True(r.Fact.IsLike);
    }

    [Fact]
    public void A_valid_catalog_entry_lives_in_the_catalog_partition()
    {
        var r = Parse("""{"id":"catalog:31","kind":"catalog","title":"31","eventTime":"2018-08-01T10:00:00Z","attributes":{"name":"Dangerous Minds (1995)","genres":"Drama"}}""");
        Assert.True(r.IsValid, r.Error);
        Assert.Equal("catalog", r.Fact!.PartitionKey);
        Assert.Equal("Drama", r.Fact.Attributes!["genres"]);
    }

    [Theory]
    [InlineData("{not json", "malformed JSON")]
    [InlineData("[]", "malformed JSON")]
    [InlineData("null", "malformed JSON")]
    [InlineData("""{"id":"x","kind":"purchase","member":"1","title":"2","value":1,"eventTime":"2018-08-01T10:00:00Z"}""", "unknown kind")]
    [InlineData("""{"id":"x","member":"1","title":"2","value":1,"eventTime":"2018-08-01T10:00:00Z"}""", "unknown kind")]
    [InlineData("""{"id":"x","kind":"rating","title":"2","value":4,"eventTime":"2018-08-01T10:00:00Z"}""", "needs member and title")]
    [InlineData("""{"id":"x","kind":"rating","member":"1","value":4,"eventTime":"2018-08-01T10:00:00Z"}""", "needs member and title")]
    [InlineData("""{"id":"x","kind":"catalog","eventTime":"2018-08-01T10:00:00Z","attributes":{"name":"A"}}""", "needs a title")]
    [InlineData("""{"id":"x","kind":"catalog","title":"2","eventTime":"2018-08-01T10:00:00Z"}""", "attributes.name")]
    [InlineData("""{"kind":"rating","member":"1","title":"2","value":4,"eventTime":"2018-08-01T10:00:00Z"}""", "id is required")]
    [InlineData("""{"id":"x","kind":"rating","member":"1","title":"2","value":4}""", "eventTime is required")]
    [InlineData("""{"id":"x","kind":"rating","member":"1","title":"2","value":4,"eventTime":"1969-12-31T00:00:00Z"}""", "is before")]
    [InlineData("""{"id":"x","kind":"rating","member":"1","title":"2","value":4,"eventTime":"2018-09-03T00:00:00Z"}""", "after ingest time")]
    [InlineData("""{"id":"x","kind":"rating","member":"1","title":"2","value":4,"eventTime":"not a time"}""", "malformed JSON")]
    [InlineData("""{"id":"x","kind":"rating","member":"1","title":"2","value":7,"eventTime":"2018-08-01T10:00:00Z"}""", "outside 0.5..5")]
    [InlineData("""{"id":"x","kind":"rating","member":"1","title":"2","value":3.3,"eventTime":"2018-08-01T10:00:00Z"}""", "outside 0.5..5")]
    [InlineData("""{"id":"x","kind":"rating","member":"1","title":"2","eventTime":"2018-08-01T10:00:00Z"}""", "finite value")]
    [InlineData("""{"id":"x","kind":"rating","member":"1' or PartitionKey ne '","title":"2","value":4,"eventTime":"2018-08-01T10:00:00Z"}""", "character outside")]
    [InlineData("""{"id":"a/b","kind":"rating","member":"1","title":"2","value":4,"eventTime":"2018-08-01T10:00:00Z"}""", "character outside")]
    [InlineData("""{"id":"x","kind":"retraction","member":"1","eventTime":"2018-08-01T10:00:00Z"}""", "needs supersedes")]
    [InlineData("""{"id":"x","kind":"rating","member":"1","title":"2","value":4,"eventTime":"2018-08-01T10:00:00Z","supersedes":"x"}""", "cannot supersede itself")]
    [InlineData("""{"schemaVersion":2,"id":"x","kind":"rating","member":"1","title":"2","value":4,"eventTime":"2018-08-01T10:00:00Z"}""", "unsupported schemaVersion")]
    public void Bad_events_are_refused_with_a_reason(string json, string reason)
    {
        var r = Parse(json);
        Assert.False(r.IsValid);
        Assert.Contains(reason, r.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"id":"c","kind":"catalog","title":"2","eventTime":"2018-08-01T10:00:00Z","attributes":{"name":null}}""")]
    [InlineData("""{"id":"c","kind":"catalog","title":"2","eventTime":"2018-08-01T10:00:00Z","attributes":{"name":"A","genres":null,"year":null}}""")]
    [InlineData("""{"id":"c","kind":"catalog","title":"2","eventTime":"2018-08-01T10:00:00Z","attributes":{"name":"A","":"x"}}""")]
    [InlineData("""{"id":"x","kind":"rating","member":"1","title":"2","value":4,"eventTime":"2018-08-01T10:00:00Z","attributes":null}""")]
    public void Odd_shapes_get_a_verdict_never_an_exception(string json)
    {
        // An exception here would fail the trigger's batch and redeliver it forever.
        var r = Parse(json);
        Assert.True(r.IsValid || r.Error is { Length: > 0 });
    }

    [Fact]
    public void Oversized_and_empty_payloads_are_refused_before_parsing()
    {
        var big = validator.Parse(new byte[validator.Limits.MaxPayloadBytes + 1], Now);
        Assert.Contains("payload too large", big.Error, StringComparison.Ordinal);
        Assert.Contains("empty payload", validator.Parse([], Now).Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Too_many_attributes_are_refused()
    {
        var attributes = string.Join(",", Enumerable.Range(0, 20).Select(i => $"\"k{i}\":\"v\""));
        var r = Parse("""{"id":"c","kind":"catalog","title":"2","eventTime":"2018-08-01T10:00:00Z","attributes":{"name":"n",""" + attributes + "}}");
        Assert.Contains("too many attributes", r.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"id":"x","kind":"rating","member":"1","title":"2","value":"high","eventTime":"2018-08-01T10:00:00Z"}""", "field 'value' must be a number")]
    [InlineData("""{"id":"x","kind":"rating","member":"1","title":"2","value":4,"eventTime":"yesterday"}""", "field 'eventTime' must be a date and time")]
    [InlineData("""{"id":["x"],"kind":"rating"}""", "field 'id' must be a string")]
    [InlineData("""{"id":"x","kind":"catalog","title":"2","eventTime":"2018-08-01T10:00:00Z","attributes":{"name":5}}""", "field 'attributes.name' must be a string")]
    [InlineData("""{"id":"x","id":"y"}""", "field 'id' is given more than once")]
    [InlineData("""{"id":"x",""", "malformed JSON at line 1")]
    public void Dead_letter_reasons_name_the_json_field_and_the_rule_never_a_dotnet_type(string json, string reason)
    {
        var r = Parse(json);
        Assert.False(r.IsValid);
        Assert.Contains(reason, r.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", r.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Serverless.", r.Error, StringComparison.Ordinal);
    }
}
