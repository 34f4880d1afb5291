// SeqCheck drives Hadoop's own SequenceFile classes for internal/seqfile's
// interop tests: "read <file>" prints the key and value classes, then one
// "key<TAB>value" line per record; "write <file> bytes|text <n>" writes n
// records with LongWritable keys 1700000000000+i and BytesWritable or Text
// values "hadoop record <i> " + "x" repeated i%50 times, uncompressed, or
// block-compressed with the codec class given as a fifth argument;
// "cat <file>" decompresses a file with the codec its extension names
// (.gz, .snappy: Hadoop's CompressionCodecFactory) and prints it.
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.*;
import org.apache.hadoop.io.compress.CompressionCodec;
import org.apache.hadoop.io.compress.CompressionCodecFactory;
import org.apache.hadoop.util.ReflectionUtils;

public class SeqCheck {
  public static void main(String[] a) throws Exception {
    Configuration conf = new Configuration();
    Path p = new Path("file://" + a[1]);
    if (a[0].equals("cat")) {
      CompressionCodec codec = new CompressionCodecFactory(conf).getCodec(p);
      if (codec == null) {
        throw new IllegalArgumentException("no codec for " + p);
      }
      try (java.io.InputStream in = codec.createInputStream(p.getFileSystem(conf).open(p))) {
        in.transferTo(System.out);
      }
      System.out.flush();
    } else if (a[0].equals("read")) {
      try (SequenceFile.Reader r = new SequenceFile.Reader(conf, SequenceFile.Reader.file(p))) {
        System.out.println(r.getKeyClassName() + " " + r.getValueClassName());
        Writable k = (Writable) ReflectionUtils.newInstance(r.getKeyClass(), conf);
        Writable v = (Writable) ReflectionUtils.newInstance(r.getValueClass(), conf);
        while (r.next(k, v)) {
          String s = v instanceof BytesWritable ? new String(((BytesWritable) v).copyBytes(), "UTF-8") : v.toString();
          System.out.println(k + "\t" + s);
        }
      }
    } else {
      Class<? extends Writable> vc = a[2].equals("text") ? Text.class : BytesWritable.class;
      SequenceFile.Writer.Option comp = SequenceFile.Writer.compression(SequenceFile.CompressionType.NONE);
      if (a.length > 4) {
        CompressionCodec codec = (CompressionCodec) ReflectionUtils.newInstance(conf.getClassByName(a[4]), conf);
        comp = SequenceFile.Writer.compression(SequenceFile.CompressionType.BLOCK, codec);
      }
      try (SequenceFile.Writer w = SequenceFile.createWriter(conf, SequenceFile.Writer.file(p),
          SequenceFile.Writer.keyClass(LongWritable.class), SequenceFile.Writer.valueClass(vc), comp)) {
        for (int i = 0; i < Integer.parseInt(a[3]); i++) {
          byte[] b = ("hadoop record " + i + " " + "x".repeat(i % 50)).getBytes("UTF-8");
          w.append(new LongWritable(1700000000000L + i), vc == Text.class ? new Text(b) : new BytesWritable(b));
        }
      }
    }
  }
}
